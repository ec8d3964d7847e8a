//! The one integration-test binary of gofer-server (STYLE rule 25): one module per area.

mod scheduler;
