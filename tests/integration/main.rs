//! Integration tests: the `emtape` binary and library driven over real loopback HTTP(S).

mod cassettes;
mod check;
mod conformance;
mod crawl;
mod diff;
mod forward;
mod har;
mod html;
mod keep;
mod lint;
mod matrix;
mod model;
mod mutation;
mod pack;
mod record;
mod run;
mod secrets;
mod serve;
mod support;
mod users;
mod vbr;
