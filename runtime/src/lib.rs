//! Runtime for generated guest libraries and API servers (issue 6): not built yet.
