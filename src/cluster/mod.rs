//! The node's view of the cluster, routing, and the CLUSTER command replies.
pub mod replies;
pub mod route;
pub mod view;
