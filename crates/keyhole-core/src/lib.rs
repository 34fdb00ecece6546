//! CloudFront signed cookies and URLs: policies, keys, signing and verification, with no I/O.
//!
//! ```
//! use keyhole_core::{CookieAttributes, HashAlgorithm, KeyType, Policy, Signer, SigningKey};
//!
//! let key = SigningKey::generate(KeyType::EcdsaP256)?;
//! let signer = Signer::new(key, "K2JCJMDEHXQW5F", HashAlgorithm::Sha256);
//! let policy = Policy::new("https://d111111abcdef8.cloudfront.net/users/abc/*", 1_767_290_400)?;
//! let cookies = signer.cookies(&policy)?;
//! let attrs = CookieAttributes { path: "/users/abc/".into(), ..CookieAttributes::default() };
//! assert_eq!(cookies.set_cookie_headers(&attrs).len(), 4);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod cf_base64;
mod clock;
mod cookies;
mod derive;
mod error;
pub mod fuzzing;
mod key;
mod pem;
mod policy;
pub mod revocation;
mod signer;
mod vars;
mod verify;

pub use clock::{Clock, SystemClock};
pub use cookies::{
    COOKIE_NAMES, CookieAttributes, SameSite, SignedCookies, clearing_set_cookie_headers,
    parse_cookie_header,
};
pub use derive::session_marker_key;
pub use error::{
    CookieError, DecodeError, KeyError, PolicyError, PrefixError, SignError, VerifyError,
};
pub use key::{HashAlgorithm, KeyType, SigningKey, VerifyingKey};
pub use policy::{IpRange, Policy, check_resource, resource_matches};
pub use signer::{Signer, is_valid_key_pair_id};
pub use vars::{MissingPartner, Vars, split_list};
pub use verify::{Grant, Verifier};
