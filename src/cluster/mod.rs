//! The node's view of the cluster, routing, and the CLUSTER command replies.
pub mod client_port;
pub mod replies;
pub mod route;
pub mod view;
