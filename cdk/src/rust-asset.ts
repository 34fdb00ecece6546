// The two Lambdas as CDK assets: cargo-lambda cross-compiles each binary for arm64 at synth, with
// the very command `sam build` runs for the template's `BuildMethod: rust-cargolambda`
// (`cargo lambda build --release --arm64 --bin <binary>` in the function's folder). Same command,
// same CARGO_TARGET_DIR: after a `sam build` the synth finds everything compiled and only copies
// the binary out.

import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AssetHashType, DockerImage } from 'aws-cdk-lib';
import { Asset } from 'aws-cdk-lib/aws-s3-assets';
import { Construct } from 'constructs';

/** A Lambda binary of the Keyhole workspace. */
export interface RustLambda {
  /** Folder of the function's crate, relative to the workspace root. */
  readonly folder: string;
  /** Cargo binary name. */
  readonly binary: string;
}

const EM_AARCH64 = 183;

export function rustLambdaAsset(scope: Construct, id: string, workspace: string, lambda: RustLambda): Asset {
  const crateDir = path.join(workspace, lambda.folder);
  return new Asset(scope, id, {
    path: crateDir,
    // Hash what was built, not the sources: the binary changes exactly when anything that goes
    // into it does (any crate, Cargo.lock, the toolchain), and a rebuild of unchanged sources gives
    // the same hash, so no needless Lambda update. When bundling is skipped (unit tests, or
    // `cdk synth --exclusively` of another stack) CDK uses a placeholder hash instead.
    assetHashType: AssetHashType.OUTPUT,
    bundling: {
      // Never pulled: `local` below either builds or throws, so CDK never falls back to Docker.
      image: DockerImage.fromRegistry('keyhole-builds-with-local-cargo-lambda'),
      local: {
        tryBundle(outputDir: string): boolean {
          buildWithCargoLambda(crateDir, lambda.binary, outputDir);
          return true;
        },
      },
    },
  });
}

function buildWithCargoLambda(crateDir: string, binary: string, outputDir: string): void {
  const args = ['lambda', 'build', '--release', '--arm64', '--bin', binary, '--lambda-dir', outputDir, '--flatten', binary];
  const started = Date.now();
  const run = spawnSync('cargo', args, {
    cwd: crateDir,
    // cargo's own output goes to stderr: the CDK CLI reads the app's stdout.
    stdio: ['ignore', process.stderr, 'inherit'],
  });
  if (run.error) {
    throw new Error(
      `Keyhole: cannot run cargo to build ${binary} (${run.error.message}). Building the Lambdas at synth needs ` +
        'cargo, the aarch64-unknown-linux-gnu Rust target, cargo-lambda and zig on PATH ' +
        '(in the Keyhole repository: make cdk-synth provides them from .venv).',
    );
  }
  if (run.status !== 0) {
    throw new Error(
      `Keyhole: \`cargo ${args.join(' ')}\` in ${crateDir} failed (exit ${run.status ?? run.signal}); its output is above. ` +
        'It needs cargo-lambda and zig on PATH and the aarch64-unknown-linux-gnu Rust target.',
    );
  }
  const bootstrap = path.join(outputDir, 'bootstrap');
  if (!fs.existsSync(bootstrap)) {
    throw new Error(`Keyhole: cargo lambda build of ${binary} wrote no ${bootstrap}`);
  }
  const header = Buffer.alloc(20);
  const fd = fs.openSync(bootstrap, 'r');
  try {
    fs.readSync(fd, header, 0, header.length, 0);
  } finally {
    fs.closeSync(fd);
  }
  const isElf = header.subarray(0, 4).equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
  if (!isElf || header.readUInt16LE(18) !== EM_AARCH64) {
    throw new Error(`Keyhole: ${bootstrap} is not an arm64 Linux executable; the template's functions run on arm64`);
  }
  process.stderr.write(`keyhole: built ${binary} for arm64 with cargo-lambda in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
}
