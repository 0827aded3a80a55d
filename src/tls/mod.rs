//! TLS: the RESP port's server configuration, and the mutual TLS between nodes in which each
//! node's certificate is checked against the cluster's CA and bound to the node id it claims.
//!
//! The binding: a node's certificate carries the DNS name `node-<id>.slotraft`
//! (`node_dns_name`) among its subject alternative names, and no other node's. A node reaching
//! node 3 asks for that name (`server_name(3)`), so a certificate of node 2 answering on node
//! 3's address is refused; a node accepting a peer requires its certificate to name exactly one
//! node of the cluster, and that node is the peer (`peer_node_id`). `slotraft certs`
//! (`dev_ca`) issues such certificates; any CA can, with that name in the SAN.
//!
//! The crypto is rustls with ring, chosen explicitly (`provider`), never a process default.

pub mod dev_ca;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{ClientConfig, DigitallySignedStruct, DistinguishedName, RootCertStore, ServerConfig, SignatureScheme};

use crate::config::{AuthClients, TlsConfig};
use crate::ids::NodeId;

/// The name a node's certificate carries for its id: what binds a certificate to a node.
pub fn node_dns_name(id: NodeId) -> String {
    format!("node-{id}.slotraft")
}

/// The server name a node asks for when it connects to node `id`.
pub fn server_name(id: NodeId) -> ServerName<'static> {
    // A name of letters, digits, '-' and '.' is always a valid DNS name.
    ServerName::try_from(node_dns_name(id)).unwrap_or_else(|_| unreachable!("node names are DNS names"))
}

/// Why TLS could not be set up; each names the file at fault.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}: {what}")]
    Invalid { path: PathBuf, what: String },
    #[error("{0}")]
    Setup(String),
}

/// ring, named explicitly: a dependency enabling another rustls provider would otherwise make
/// the process default ambiguous. rustls deprecates ring's provider for lacking post-quantum
/// key exchange; aws-lc-rs, which has it, needs a cmake build of a C library on every machine
/// (a later choice: the provider is chosen here only).
#[allow(deprecated)]
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_path_buf(),
        source,
    })
}

fn invalid(path: &Path, what: impl Into<String>) -> TlsError {
    TlsError::Invalid {
        path: path.to_path_buf(),
        what: what.into(),
    }
}

/// The certificates of a PEM file, at least one.
pub fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = read(path)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(path, format!("not a PEM certificate file ({e})")))?;
    if certs.is_empty() {
        return Err(invalid(path, "holds no PEM certificate"));
    }
    for cert in &certs {
        webpki::EndEntityCert::try_from(cert).map_err(|e| invalid(path, format!("not a valid certificate ({e})")))?;
    }
    Ok(certs)
}

/// The private key of a PEM file (PKCS#8, PKCS#1 or SEC1).
pub fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let pem = read(path)?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| invalid(path, format!("holds no PEM private key ({e})")))
}

/// The CA certificates of a PEM file, as trust anchors.
pub fn read_roots(path: &Path) -> Result<Arc<RootCertStore>, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in read_certs(path)? {
        roots
            .add(cert)
            .map_err(|e| invalid(path, format!("not a usable CA certificate ({e})")))?;
    }
    Ok(Arc::new(roots))
}

/// One node's TLS identity: its certificate chain and key, and the cluster's CA, read once at
/// start from the files `[cluster.tls]` names.
#[derive(Clone, Debug)]
pub struct NodeTls {
    pub id: NodeId,
    certs: Vec<CertificateDer<'static>>,
    key: Arc<PrivateKeyDer<'static>>,
    roots: Option<Arc<RootCertStore>>,
    auth_clients: AuthClients,
}

impl NodeTls {
    /// Reads and checks node `id`'s files: each must exist and hold what it should, the key
    /// must be the certificate's, and with `replication` the certificate must name the node.
    pub fn load(config: &TlsConfig, id: NodeId) -> Result<NodeTls, TlsError> {
        let (cert_file, key_file) = (config.cert_file_for(id), config.key_file_for(id));
        let certs = read_certs(&cert_file)?;
        let key = read_key(&key_file)?;
        let roots = config.ca_file.as_deref().map(read_roots).transpose()?;
        let tls = NodeTls::new(id, certs, key, roots, config.auth_clients);
        tls.resp_server()
            .map_err(|e| invalid(&key_file, format!("does not go with {} ({e})", cert_file.display())))?;
        if config.replication && tls.bound_node(&[id]).is_none() {
            return Err(invalid(
                &cert_file,
                format!(
                    "does not name node {id} (replication = true needs {} among its subject alternative names)",
                    node_dns_name(id)
                ),
            ));
        }
        Ok(tls)
    }

    /// An identity from certificates and a key already in memory.
    pub fn new(
        id: NodeId,
        certs: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
        roots: Option<Arc<RootCertStore>>,
        auth_clients: AuthClients,
    ) -> NodeTls {
        NodeTls {
            id,
            certs,
            key: Arc::new(key),
            roots,
            auth_clients,
        }
    }

    fn bound_node(&self, nodes: &[NodeId]) -> Option<NodeId> {
        peer_node_id(&self.certs, nodes)
    }

    fn roots(&self) -> Result<Arc<RootCertStore>, TlsError> {
        self.roots
            .clone()
            .ok_or_else(|| TlsError::Setup("checking a peer's certificate needs cluster.tls.ca_file".into()))
    }

    /// The RESP port's configuration: the node's certificate; a client's certificate as
    /// `auth_clients` says (Redis's `tls-auth-clients`), checked against the CA.
    pub fn resp_server(&self) -> Result<Arc<ServerConfig>, TlsError> {
        let builder = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(setup)?;
        let builder = match self.auth_clients {
            AuthClients::No => builder.with_no_client_auth(),
            mode => {
                let verifier = WebPkiClientVerifier::builder_with_provider(self.roots()?, provider());
                let verifier = if mode == AuthClients::Optional {
                    verifier.allow_unauthenticated()
                } else {
                    verifier
                };
                builder.with_client_cert_verifier(verifier.build().map_err(setup)?)
            }
        };
        let config = builder
            .with_single_cert(self.certs.clone(), self.key.clone_key())
            .map_err(setup)?;
        Ok(Arc::new(config))
    }

    /// The node-to-node server's configuration (for the node-to-node layer): the peer must
    /// show a certificate signed by the CA that names exactly one of `nodes`; after the
    /// handshake `peer_node_id` tells which.
    pub fn node_server(&self, nodes: &[NodeId]) -> Result<Arc<ServerConfig>, TlsError> {
        let inner = WebPkiClientVerifier::builder_with_provider(self.roots()?, provider())
            .build()
            .map_err(setup)?;
        let verifier = Arc::new(NodePeerVerifier {
            inner,
            nodes: nodes.to_vec(),
        });
        let config = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(setup)?
            .with_client_cert_verifier(verifier)
            .with_single_cert(self.certs.clone(), self.key.clone_key())
            .map_err(setup)?;
        Ok(Arc::new(config))
    }

    /// The node-to-node client's configuration (for the node-to-node layer): shows this node's
    /// certificate; checks the server's against the CA and, through the server name it is
    /// given (`server_name(peer)`), that it is the node meant.
    pub fn node_client(&self) -> Result<Arc<ClientConfig>, TlsError> {
        let config = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(setup)?
            .with_root_certificates(self.roots()?)
            .with_client_auth_cert(self.certs.clone(), self.key.clone_key())
            .map_err(setup)?;
        Ok(Arc::new(config))
    }
}

fn setup(e: impl std::fmt::Display) -> TlsError {
    TlsError::Setup(e.to_string())
}

/// The one node of `nodes` that a (verified) certificate chain's end entity names; `None` when
/// it names none, or more than one (a certificate must bind to one node).
pub fn peer_node_id(certs: &[CertificateDer<'_>], nodes: &[NodeId]) -> Option<NodeId> {
    let cert = webpki::EndEntityCert::try_from(certs.first()?).ok()?;
    let mut named = nodes
        .iter()
        .filter(|&&id| cert.verify_is_valid_for_subject_name(&server_name(id)).is_ok());
    match (named.next(), named.next()) {
        (Some(&id), None) => Some(id),
        _ => None,
    }
}

/// WebPKI's client verification, plus: the certificate names exactly one node of the
/// cluster (a client certificate of the same CA is not a node).
#[derive(Debug)]
struct NodePeerVerifier {
    inner: Arc<dyn ClientCertVerifier>,
    nodes: Vec<NodeId>,
}

impl ClientCertVerifier for NodePeerVerifier {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let verified = self.inner.verify_client_cert(end_entity, intermediates, now)?;
        match peer_node_id(std::slice::from_ref(end_entity), &self.nodes) {
            Some(_) => Ok(verified),
            None => Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::NotValidForName,
            )),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::dev_ca::{DevCa, Issued};
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio_rustls::{TlsAcceptor, TlsConnector};

    fn certs(pem: &str) -> Vec<CertificateDer<'static>> {
        CertificateDer::pem_slice_iter(pem.as_bytes())
            .collect::<Result<_, _>>()
            .unwrap()
    }

    fn key(pem: &str) -> PrivateKeyDer<'static> {
        PrivateKeyDer::from_pem_slice(pem.as_bytes()).unwrap()
    }

    fn roots(ca: &DevCa) -> Arc<RootCertStore> {
        let mut roots = RootCertStore::empty();
        roots.add(certs(&ca.cert_pem()).remove(0)).unwrap();
        Arc::new(roots)
    }

    fn node(ca: &DevCa, trusted: &DevCa, id: NodeId, auth: AuthClients) -> NodeTls {
        let Issued { cert_pem, key_pem } = ca.node(id, &["127.0.0.1".into()]).unwrap();
        NodeTls::new(id, certs(&cert_pem), key(&key_pem), Some(roots(trusted)), auth)
    }

    /// A client of the RESP port: trusts `trusted`, shows `cert` if given.
    fn resp_client(trusted: &DevCa, cert: Option<&Issued>) -> Arc<ClientConfig> {
        let builder = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots(trusted));
        Arc::new(match cert {
            Some(c) => builder
                .with_client_auth_cert(certs(&c.cert_pem), key(&c.key_pem))
                .unwrap(),
            None => builder.with_no_client_auth(),
        })
    }

    /// Runs a handshake and one echoed message between a client and a server over memory;
    /// on success, the node id the server found in the client's certificate among `nodes`.
    async fn handshake(
        client: Arc<ClientConfig>,
        name: ServerName<'static>,
        server: Arc<ServerConfig>,
        nodes: &[NodeId],
    ) -> Result<Option<NodeId>, String> {
        let (a, b) = tokio::io::duplex(64 * 1024);
        let nodes = nodes.to_vec();
        let serve = tokio::spawn(async move {
            let mut s = TlsAcceptor::from(server).accept(b).await.map_err(|e| e.to_string())?;
            let peer = s.get_ref().1.peer_certificates().and_then(|c| peer_node_id(c, &nodes));
            let mut buf = [0u8; 4];
            s.read_exact(&mut buf).await.map_err(|e| e.to_string())?;
            s.write_all(&buf).await.map_err(|e| e.to_string())?;
            s.flush().await.map_err(|e| e.to_string())?;
            Ok::<_, String>(peer)
        });
        let talk = async {
            let mut c = TlsConnector::from(client)
                .connect(name, a)
                .await
                .map_err(|e| e.to_string())?;
            c.write_all(b"PING").await.map_err(|e| e.to_string())?;
            c.flush().await.map_err(|e| e.to_string())?;
            let mut buf = [0u8; 4];
            c.read_exact(&mut buf).await.map_err(|e| e.to_string())?;
            Ok::<_, String>(buf)
        };
        let talked = talk.await;
        let served = serve.await.unwrap();
        assert!(talked.is_ok() == served.is_ok(), "{talked:?} / {served:?}");
        assert_eq!(talked?, *b"PING");
        served
    }

    fn ip() -> ServerName<'static> {
        ServerName::try_from("127.0.0.1").unwrap()
    }

    #[tokio::test]
    async fn resp_port_checks_clients_as_auth_clients_says() {
        let ca = DevCa::new("test CA").unwrap();
        let other = DevCa::new("another CA").unwrap();
        let good = ca.client("good client").unwrap();
        let foreign = other.client("foreign client").unwrap();
        let yes = node(&ca, &ca, 1, AuthClients::Yes).resp_server().unwrap();
        // A certificate of the cluster's CA: accepted.
        assert!(
            handshake(resp_client(&ca, Some(&good)), ip(), yes.clone(), &[])
                .await
                .is_ok()
        );
        // auth_clients = "yes": a client without a certificate is refused…
        assert!(handshake(resp_client(&ca, None), ip(), yes.clone(), &[]).await.is_err());
        // …and one with a certificate of another CA.
        assert!(
            handshake(resp_client(&ca, Some(&foreign)), ip(), yes, &[])
                .await
                .is_err()
        );
        // "optional": without one is fine, a bad one is not.
        let optional = node(&ca, &ca, 1, AuthClients::Optional).resp_server().unwrap();
        assert!(
            handshake(resp_client(&ca, None), ip(), optional.clone(), &[])
                .await
                .is_ok()
        );
        assert!(
            handshake(resp_client(&ca, Some(&foreign)), ip(), optional, &[])
                .await
                .is_err()
        );
        // "no": no certificate asked for.
        let no = node(&ca, &ca, 1, AuthClients::No).resp_server().unwrap();
        assert!(handshake(resp_client(&ca, None), ip(), no, &[]).await.is_ok());
        // A client that trusts another CA refuses the node.
        let yes = node(&ca, &ca, 1, AuthClients::Yes).resp_server().unwrap();
        assert!(
            handshake(resp_client(&other, Some(&good)), ip(), yes, &[])
                .await
                .is_err()
        );
    }

    /// `client` reaching node `to`, which `server` answers for, in a cluster of nodes 1-3:
    /// on success, the id the server found in the client's certificate.
    async fn node_link(client: &NodeTls, to: NodeId, server: &NodeTls) -> Result<Option<NodeId>, String> {
        let nodes = [1, 2, 3];
        let (client, server) = (client.node_client().unwrap(), server.node_server(&nodes).unwrap());
        handshake(client, server_name(to), server, &nodes).await
    }

    #[tokio::test]
    async fn nodes_are_bound_to_their_ids() {
        let ca = DevCa::new("test CA").unwrap();
        let other = DevCa::new("another CA").unwrap();
        let n = |id| node(&ca, &ca, id, AuthClients::Yes);
        let (n1, n2, n3) = (n(1), n(2), n(3));
        // Node 1 reaches node 3: each checks the other, and node 3 learns it is node 1.
        assert_eq!(node_link(&n1, 3, &n3).await, Ok(Some(1)));
        // Node 2's certificate answering where node 3 was meant: refused by the client.
        let posing = node_link(&n1, 3, &n2).await;
        assert!(posing.is_err(), "{posing:?}");
        // A node of another CA, either way round: refused.
        let out = node_link(&node(&other, &ca, 1, AuthClients::Yes), 3, &n3).await;
        assert!(out.is_err(), "{out:?}");
        let out = node_link(&n1, 3, &node(&other, &ca, 3, AuthClients::Yes)).await;
        assert!(out.is_err(), "{out:?}");
        // A client certificate of the cluster's CA is not a node.
        let client = ca.client("a client").unwrap();
        let roots = Some(roots(&ca));
        let as_client = NodeTls::new(
            9,
            certs(&client.cert_pem),
            key(&client.key_pem),
            roots,
            AuthClients::Yes,
        );
        let out = node_link(&as_client, 3, &n3).await;
        assert!(out.is_err(), "{out:?}");
        // A node not in the cluster (id 4) is refused by a server that knows 1-3.
        let out = node_link(&n(4), 3, &n3).await;
        assert!(out.is_err(), "{out:?}");
    }

    #[test]
    fn a_certificate_names_one_node() {
        let ca = DevCa::new("test CA").unwrap();
        let two = certs(&ca.node(2, &["127.0.0.1".into(), "localhost".into()]).unwrap().cert_pem);
        assert_eq!(peer_node_id(&two, &[1, 2, 3]), Some(2));
        assert_eq!(peer_node_id(&two, &[1, 3]), None);
        // "node-2" is not a prefix match for node 22.
        assert_eq!(peer_node_id(&two, &[22]), None);
        assert_eq!(
            peer_node_id(&certs(&ca.client("c").unwrap().cert_pem), &[1, 2, 3]),
            None
        );
    }

    #[test]
    fn bad_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let ca = DevCa::new("test CA").unwrap();
        let n1 = ca.node(1, &[]).unwrap();
        let n2 = ca.node(2, &[]).unwrap();
        let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
        write("ca.crt", &ca.cert_pem());
        write("node-1.crt", &n1.cert_pem);
        write("node-1.key", &n1.key_pem);
        write("node-2.crt", &n2.cert_pem);
        write("node-2.key", &n1.key_pem); // node 1's key
        write("node-3.crt", "not a certificate");
        write("node-3.key", &n1.key_pem);
        write("node-4.crt", &n1.cert_pem);
        write(
            "node-4.key",
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        );
        let config = TlsConfig {
            ca_file: Some(dir.path().join("ca.crt")),
            cert_file: dir.path().join("node-{node}.crt"),
            key_file: dir.path().join("node-{node}.key"),
            auth_clients: AuthClients::Yes,
            replication: true,
        };
        assert!(NodeTls::load(&config, 1).is_ok());
        let err = |id| NodeTls::load(&config, id).unwrap_err().to_string();
        assert!(
            err(2).contains("node-2.key: does not go with") && err(2).contains("node-2.crt"),
            "{}",
            err(2)
        );
        assert!(err(3).contains("node-3.crt: holds no PEM certificate"), "{}", err(3));
        assert!(err(4).contains("node-4.key"), "{}", err(4));
        assert!(
            err(5).starts_with("cannot read ") && err(5).contains("node-5.crt"),
            "{}",
            err(5)
        );
        // Node 1's files for node 4, with replication: the certificate does not name node 4.
        let mut swapped = config.clone();
        swapped.key_file = dir.path().join("node-1.key");
        let e = NodeTls::load(&swapped, 4).unwrap_err().to_string();
        assert!(e.contains("node-4.crt: does not name node 4"), "{e}");
        let mut no_ca = config.clone();
        no_ca.ca_file = Some(dir.path().join("nowhere.crt"));
        assert!(
            NodeTls::load(&no_ca, 1)
                .unwrap_err()
                .to_string()
                .contains("nowhere.crt")
        );
    }
}
