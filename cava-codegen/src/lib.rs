//! Code generators (issue 6): not built yet.
