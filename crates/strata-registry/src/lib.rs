//! Distribution client: auth, pull, push, credentials.
