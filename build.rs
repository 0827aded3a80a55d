//! Compiles proto/ with a vendored protoc, so building needs no system protoc.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    // SAFETY of intent: build scripts run single-threaded; this only points prost at protoc.
    unsafe { std::env::set_var("PROTOC", protoc) };
    println!("cargo:rerun-if-changed=proto/slotraft.proto");
    tonic_prost_build::configure().compile_protos(&["proto/slotraft.proto"], &["proto"])?;
    Ok(())
}
