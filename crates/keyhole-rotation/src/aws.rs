//! The AWS SDK adapters behind [`SecretApi`] and [`KeyGroupApi`]: one call each, errors reduced
//! to the few cases the logic tells apart.
