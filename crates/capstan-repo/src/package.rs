//! `helm package`: a chart directory as a versioned `.tgz`.
