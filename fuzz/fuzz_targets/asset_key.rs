//! Asset key resolution, in a fixture folder laid out once per process under the temporary
//! directory. The invariants live in `keyhole_serve::fuzzing::check_asset_key`.
#![no_main]

use std::sync::OnceLock;

use keyhole_serve::fuzzing::{AssetFixture, check_asset_key};

fn fixture() -> &'static AssetFixture {
    static FIXTURE: OnceLock<AssetFixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("keyhole-fuzz-assets-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the fixture folder");
        AssetFixture::create(&dir).expect("lay out the fixture folder")
    })
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| check_asset_key(fixture(), data));
