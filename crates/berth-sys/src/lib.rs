//! berth-sys: placeholder
#![allow(unsafe_code)]
