//! Go text/template evaluation over JSON values, for Docker-style --format options.
