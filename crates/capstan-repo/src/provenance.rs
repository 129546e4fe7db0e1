//! Provenance: `.prov` files (OpenPGP clear-signed) and `--verify`.
