//! Cryptography: SP800-108 key derivation, signing, encryption and pre-auth integrity.
