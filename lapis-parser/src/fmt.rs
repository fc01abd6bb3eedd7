//! `cava fmt`: being written.
