//! The client side of a FaaS platform: what the injector needs from it, and the OpenWhisk
//! REST client that provides it (for a remote OpenWhisk and for the embedded platform alike).
