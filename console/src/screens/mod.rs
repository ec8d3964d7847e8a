//! One module per screen of the console: its part of the transition function (methods on the
//! console state, `App`, defined in `model`) and its drawing, together.

pub mod dag;
pub mod events;
pub mod extensions;
pub mod help;
pub mod logs;
pub mod namespaces;
pub mod pipeline;
pub mod pipelines;
pub mod pulse;
pub mod run;
pub mod running;
pub mod runs;
