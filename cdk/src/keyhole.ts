// The Keyhole construct: infra/sam-template.yaml included as it is (CfnInclude keeps its
// Serverless transform), every template parameter set from a prop, and the two Lambdas built as CDK
// assets. Everything the stack makes is defined once, in the template; this file only maps props
// onto it and checks them.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CfnResource, Duration, Stack, Token } from 'aws-cdk-lib';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { CfnInclude } from 'aws-cdk-lib/cloudformation-include';
import { Construct } from 'constructs';
import { RustLambda, rustLambdaAsset } from './rust-asset';
import { checkParameterValue, parametersOf, readTemplate, specialize } from './template';

/** A custom domain for the distribution, as the CDK recipe took it, plus an optional certificate. */
export interface KeyholeCustomDomain {
  /**
   * The Route 53 hosted zone of `domainName`, as an object (for example
   * `HostedZone.fromHostedZoneAttributes`, or a `HostedZone` of your stack): nothing is looked up at
   * synth. The stack creates the A and AAAA alias records for `domainName` in it.
   */
  readonly zone: route53.IHostedZone;
  /** The asset host, e.g. `assets.example.com`; it must lie in `zone`. Template parameter `DomainName`. */
  readonly domainName: string;
  /**
   * An ACM certificate for `domainName` in us-east-1 (CloudFront reads certificates only there).
   * Template parameter `CertificateArn`.
   *
   * @default a certificate created in this stack and validated by DNS in `zone`; that needs the
   * stack itself in us-east-1 (`env: { region: 'us-east-1' }`). A stack in another region passes
   * one from a us-east-1 stack (`crossRegionReferences: true`).
   */
  readonly certificate?: acm.ICertificate;
}

/**
 * Props of {@link Keyhole}. The first five are the CDK recipe's (`PrivateAssetBucket`), with the
 * same names and meanings; the rest are Keyhole's own. Each names the template parameter it sets
 * (see the parameter table in the repository's README). Trust one issuer at least: `userPoolId`
 * with `userPoolClientId` (Cognito), or `oidcIssuer` with `oidcAudience` (any OIDC issuer).
 */
export interface KeyholeProps {
  /**
   * Name for the bucket the stack creates (the recipe's `assetBucketName`).
   * @default a name CloudFormation generates
   */
  readonly assetBucketName?: string;
  /**
   * Serve this existing bucket instead of creating one (the recipe's `assetBucketNameImport`).
   * It must be in the stack's region; add the bucket-policy statement from the
   * `ExistingBucketPolicyStatement` output to it. Template parameter `ExistingBucketName`.
   * @default a new private bucket
   */
  readonly assetBucketNameImport?: string;
  /** Serve the assets (and `/session`) on your own domain. Template parameters `DomainName`, `HostedZoneId`, `CertificateArn`. */
  readonly customDomain?: KeyholeCustomDomain;
  /** Trust tokens from this Cognito user pool, e.g. `eu-west-1_AbCdEf123`. Template parameter `CognitoUserPoolId`. */
  readonly userPoolId?: string;
  /** The app client (or clients) whose tokens are accepted; needed with `userPoolId`. Template parameter `CognitoClientIds`. */
  readonly userPoolClientId?: string | string[];

  /** Trust any OIDC issuer: its exact `iss` (https). Template parameter `OidcIssuer`. */
  readonly oidcIssuer?: string;
  /** Audiences accepted from `oidcIssuer`; needed with it. Template parameter `OidcAudience`. */
  readonly oidcAudience?: string | string[];
  /**
   * JWKS location when the issuer's discovery document does not give it. Template parameter `JwksUrl`.
   * @default derived from the issuer
   */
  readonly jwksUrl?: string;
  /**
   * Which Cognito token is accepted. Template parameter `TokenUse`.
   * @default 'id'
   */
  readonly tokenUse?: 'id' | 'access' | 'any';
  /**
   * The token must carry one of these groups (`cognito:groups` or `groups`). Template parameter `RequiredGroups`.
   * @default no group needed
   */
  readonly requiredGroups?: string | string[];
  /**
   * Path templates the cookies unlock; `{sub}` is the token's subject. Template parameter `SessionScopes`.
   * @default ['/users/{sub}/*']
   */
  readonly sessionScopes?: string | string[];
  /**
   * Cookie and policy lifetime, 1 minute to 7 days, in whole seconds. Template parameter `SessionTtlSeconds`.
   * @default Duration.hours(1)
   */
  readonly sessionTtl?: Duration;
  /**
   * Days between automatic rotations of the CloudFront signing key (Secrets Manager's schedule); 0
   * turns the schedule off. Template parameter `KeyRotationDays`.
   * @default 30
   */
  readonly keyRotationDays?: number;
  /**
   * `SameSite` of the signed cookies. Template parameter `CookieSameSite`.
   * @default 'Lax'
   */
  readonly cookieSameSite?: 'Lax' | 'Strict' | 'None';
  /**
   * Cookie `Domain` attribute, to share the cookies with other hosts of your domain. Template parameter `CookieDomain`.
   * @default host-only cookies
   */
  readonly cookieDomain?: string;
  /**
   * Origins allowed to call `/session` cross-origin with credentials (CORS). Template parameter `AllowedOrigins`.
   * @default none: only pages on the asset host itself
   */
  readonly allowedOrigins?: string | string[];
  /**
   * `Cache-Control` browsers get on assets: `private, no-cache` (revalidate every use, so a
   * logged-out browser cannot show a cached copy) or `private, max-age=N`. Template parameter
   * `AssetCacheControl`.
   * @default 'private, no-cache'
   */
  readonly assetCacheControl?: string;
  /**
   * Where the edge check redirects browser navigations that have no session. Template parameter `SignInUrl`.
   * @default none: such navigations get a 401
   */
  readonly signInUrl?: string;
  /**
   * CloudFront price class. Template parameter `PriceClass`.
   * @default PriceClass.PRICE_CLASS_100
   */
  readonly priceClass?: cloudfront.PriceClass;
  /**
   * How long CloudWatch keeps the signer's and the key setup's logs. Template parameter `LogRetentionDays`.
   * @default RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;

  /**
   * How long the (versioned) asset bucket keeps an overwritten or deleted object's previous
   * version, in whole days. Template parameter `NoncurrentVersionDays`.
   * @default Duration.days(30)
   */
  readonly noncurrentVersionExpiration?: Duration;
  /**
   * Requests per second the HTTP API passes to the signer (all callers together); more get 429.
   * Template parameter `ThrottleRateLimit`.
   * @default 100
   */
  readonly throttleRateLimit?: number;
  /**
   * Requests the HTTP API accepts at once above `throttleRateLimit`. Template parameter `ThrottleBurstLimit`.
   * @default 200
   */
  readonly throttleBurstLimit?: number;
  /**
   * Reserved concurrency of the signer: a hard cap on its simultaneous invocations, taken from the
   * account's pool. Template parameter `SignerReservedConcurrency`.
   * @default none reserved
   */
  readonly signerReservedConcurrency?: number;
  /**
   * CloudFront standard logging: `'CREATE'` makes a log bucket in the stack (files kept for
   * `logRetention`), a bucket name logs into that bucket (ACLs enabled). Template parameter
   * `CloudFrontLogBucket`.
   * @default no CloudFront logs
   */
  readonly cloudFrontLogBucket?: string;
  /**
   * AWS WAF web ACL for the distribution: a CLOUDFRONT-scope web ACL, which lives in us-east-1.
   * Template parameter `WebAclArn`.
   * @default no web ACL
   */
  readonly webAclArn?: string;
  /**
   * Customer-managed KMS key for the signing-key secret. Template parameter `SecretKmsKeyArn`.
   * @default Secrets Manager's AWS-managed key
   */
  readonly secretKmsKey?: kms.IKey;
  /**
   * Customer-managed KMS key for the stack's log groups; its key policy must let CloudWatch Logs
   * use it. Template parameter `LogsKmsKeyArn`.
   * @default CloudWatch Logs' own encryption
   */
  readonly logsKmsKey?: kms.IKey;

  /**
   * The Keyhole checkout whose template and Rust sources the stack is made from (its
   * `infra/sam-template.yaml`, `Cargo.toml`, `functions/`).
   * @default the checkout this package was built in
   */
  readonly sourceDir?: string;
}

/** The Lambdas of the template, and where their code comes from (rotation runs the key-setup binary). */
const FUNCTIONS: Readonly<Record<string, RustLambda>> = {
  SignerFunction: { folder: 'functions/signer', binary: 'keyhole-signer' },
  KeySetupFunction: { folder: 'functions/key-setup', binary: 'keyhole-key-setup' },
  KeyRotationFunction: { folder: 'functions/key-setup', binary: 'keyhole-key-setup' },
};

/**
 * The template's rules, which the construct drops: a rule may only refer to parameters, and once
 * every parameter is set from a prop (some to values known only at deploy time, such as a user
 * pool's id) none are left. The construct checks the same at synth: SomeIssuerIsTrusted in
 * checkTrust, CustomDomainNeedsCertificate by always giving a custom domain a certificate.
 */
const RULES_CHECKED_BY_THE_CONSTRUCT = new Set(['SomeIssuerIsTrusted', 'CustomDomainNeedsCertificate']);

const DEFAULT_SOURCE_DIR = path.resolve(__dirname, '..', '..', '..');
const CERTIFICATE_REGION = 'us-east-1';

/**
 * Keyhole in a CDK app: private S3 assets behind one CloudFront distribution, unlocked by signed
 * cookies that a Rust Lambda issues after checking the user's JWT (`POST /session`).
 *
 * One per stack: the template's logical IDs are kept as they are.
 */
export class Keyhole extends Construct {
  /** The private bucket (created, or the one named by `assetBucketNameImport`). */
  public readonly bucket: s3.IBucket;
  /** The CloudFront distribution serving the assets and `/session`. */
  public readonly distribution: cloudfront.IDistribution;
  /** Where the assets are served, e.g. `https://assets.example.com` (output `SiteUrl`). */
  public readonly siteUrl: string;
  /** Where the frontend POSTs its JWT (output `SessionEndpoint`). */
  public readonly sessionEndpoint: string;
  /** The CloudFront key group the asset behaviour trusts (output `KeyGroupId`). */
  public readonly keyGroupId: string;
  /** The custom domain's certificate, when there is a custom domain. */
  public readonly certificate?: acm.ICertificate;
  /** The value each template parameter was given. */
  public readonly parameterValues: Readonly<Record<string, string>>;
  /** The included template, for escape hatches (`getResource('SignerFunction')`, ...). */
  public readonly template: CfnInclude;

  constructor(scope: Construct, id: string, props: KeyholeProps) {
    super(scope, id);
    if (props === null || typeof props !== 'object') {
      throw new Error('Keyhole: props are required (at least userPoolId and userPoolClientId, or oidcIssuer and oidcAudience)');
    }
    const stack = Stack.of(this);
    if (stack.node.findAll().filter((c) => c instanceof Keyhole).length > 1) {
      throw new Error(`Keyhole: stack ${stack.node.path} already has a Keyhole; use one stack per Keyhole (the template's logical IDs are kept)`);
    }

    const sourceDir = path.resolve(props.sourceDir ?? DEFAULT_SOURCE_DIR);
    const templateFile = path.join(sourceDir, 'infra', 'sam-template.yaml');
    for (const needed of [templateFile, path.join(sourceDir, 'Cargo.toml')]) {
      if (!fs.existsSync(needed)) {
        throw new Error(`Keyhole: sourceDir ${sourceDir} is not a Keyhole checkout (no ${path.relative(sourceDir, needed)}); pass sourceDir`);
      }
    }
    const source = readTemplate(templateFile);
    const parameters = parametersOf(source);
    const unchecked = Object.keys(source.Rules ?? {}).filter((r) => !RULES_CHECKED_BY_THE_CONSTRUCT.has(r));
    if (unchecked.length > 0) {
      throw new Error(`Keyhole: the template's rules ${unchecked.join(', ')} are not checked by the construct yet; add their checks to it`);
    }

    checkTrust(props);
    const bucketToCreate = text('assetBucketName', props.assetBucketName);
    const bucketToImport = text('assetBucketNameImport', props.assetBucketNameImport);
    if (bucketToCreate !== undefined && bucketToImport !== undefined) {
      throw new Error('Keyhole: set assetBucketName (a bucket to create) or assetBucketNameImport (an existing bucket), not both');
    }
    if (bucketToCreate !== undefined && !Token.isUnresolved(bucketToCreate) && !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucketToCreate)) {
      throw new Error(`Keyhole: assetBucketName must be a valid S3 bucket name (3-63 of a-z, 0-9, '.', '-'), got ${JSON.stringify(bucketToCreate)}`);
    }
    const domain = this.customDomain(stack, props.customDomain);
    this.certificate = domain?.certificate;

    // Prop name beside each parameter, for the error messages.
    const given: Record<string, [string, string | undefined]> = {
      CognitoUserPoolId: ['userPoolId', text('userPoolId', props.userPoolId)],
      CognitoClientIds: ['userPoolClientId', list('userPoolClientId', props.userPoolClientId)],
      OidcIssuer: ['oidcIssuer', text('oidcIssuer', props.oidcIssuer)],
      OidcAudience: ['oidcAudience', list('oidcAudience', props.oidcAudience)],
      JwksUrl: ['jwksUrl', text('jwksUrl', props.jwksUrl)],
      TokenUse: ['tokenUse', text('tokenUse', props.tokenUse)],
      RequiredGroups: ['requiredGroups', list('requiredGroups', props.requiredGroups)],
      SessionScopes: ['sessionScopes', list('sessionScopes', props.sessionScopes)],
      SessionTtlSeconds: ['sessionTtl', seconds('sessionTtl', props.sessionTtl)],
      KeyRotationDays: ['keyRotationDays', props.keyRotationDays === undefined ? undefined : String(props.keyRotationDays)],
      CookieSameSite: ['cookieSameSite', text('cookieSameSite', props.cookieSameSite)],
      CookieDomain: ['cookieDomain', text('cookieDomain', props.cookieDomain)],
      AllowedOrigins: ['allowedOrigins', list('allowedOrigins', props.allowedOrigins)],
      AssetCacheControl: ['assetCacheControl', text('assetCacheControl', props.assetCacheControl)],
      SignInUrl: ['signInUrl', text('signInUrl', props.signInUrl)],
      DomainName: ['customDomain.domainName', domain?.domainName],
      HostedZoneId: ['customDomain.zone', domain?.zone.hostedZoneId],
      CertificateArn: ['customDomain.certificate', domain?.certificate.certificateArn],
      ExistingBucketName: ['assetBucketNameImport', bucketToImport],
      PriceClass: ['priceClass', text('priceClass', props.priceClass)],
      LogRetentionDays: ['logRetention', props.logRetention === undefined ? undefined : String(props.logRetention)],
      NoncurrentVersionDays: ['noncurrentVersionExpiration', days('noncurrentVersionExpiration', props.noncurrentVersionExpiration)],
      ThrottleRateLimit: ['throttleRateLimit', num('throttleRateLimit', props.throttleRateLimit)],
      ThrottleBurstLimit: ['throttleBurstLimit', num('throttleBurstLimit', props.throttleBurstLimit)],
      SignerReservedConcurrency: ['signerReservedConcurrency', num('signerReservedConcurrency', props.signerReservedConcurrency)],
      CloudFrontLogBucket: ['cloudFrontLogBucket', text('cloudFrontLogBucket', props.cloudFrontLogBucket)],
      WebAclArn: ['webAclArn', text('webAclArn', props.webAclArn)],
      SecretKmsKeyArn: ['secretKmsKey', keyArn('secretKmsKey', props.secretKmsKey)],
      LogsKmsKeyArn: ['logsKmsKey', keyArn('logsKmsKey', props.logsKmsKey)],
    };
    const notInTemplate = Object.keys(given).filter((p) => !(p in parameters));
    if (notInTemplate.length > 0) {
      throw new Error(`Keyhole: ${templateFile} has no parameters ${notInTemplate.join(', ')}; this construct is for another version of the template`);
    }
    const values: Record<string, string> = {};
    for (const [name, spec] of Object.entries(parameters)) {
      if (!(name in given)) {
        throw new Error(`Keyhole: the template parameter ${name} has no prop in the construct; add one`);
      }
      const [prop, value] = given[name];
      if (value === undefined) {
        values[name] = spec.Default === undefined ? '' : String(spec.Default);
      } else {
        checkParameterValue(prop, name, spec, value);
        values[name] = value;
      }
    }
    this.parameterValues = values;

    this.template = includeSpecialized(this, specialize(source, values), values);

    for (const [logicalId, lambda] of Object.entries(FUNCTIONS)) {
      const fn = this.template.getResource(logicalId);
      const code = rustLambdaAsset(this, `${logicalId}Code`, sourceDir, lambda);
      fn.addPropertyOverride('CodeUri', { Bucket: code.s3BucketName, Key: code.s3ObjectKey });
      code.addResourceMetadata(fn, 'CodeUri');
    }

    if (bucketToImport !== undefined) {
      this.bucket = s3.Bucket.fromBucketName(this, 'ImportedBucket', bucketToImport);
    } else {
      const cfnBucket = this.template.getResource('AssetBucket') as s3.CfnBucket;
      if (bucketToCreate !== undefined) {
        cfnBucket.addPropertyOverride('BucketName', bucketToCreate);
      }
      this.bucket = s3.Bucket.fromCfnBucket(cfnBucket);
    }
    const cfnDistribution = this.template.getResource('Distribution') as CfnResource;
    this.distribution = cloudfront.Distribution.fromDistributionAttributes(this, 'DistributionRef', {
      distributionId: cfnDistribution.ref,
      domainName: cfnDistribution.getAtt('DomainName').toString(),
    });
    this.siteUrl = this.template.getOutput('SiteUrl').value as string;
    this.sessionEndpoint = this.template.getOutput('SessionEndpoint').value as string;
    this.keyGroupId = this.template.getOutput('KeyGroupId').value as string;
  }

  private customDomain(stack: Stack, custom: KeyholeCustomDomain | undefined) {
    if (custom === undefined) {
      return undefined;
    }
    if (custom === null || typeof custom !== 'object') {
      throw new Error('Keyhole: customDomain must be { zone, domainName } (and optionally certificate)');
    }
    if (custom.zone === undefined || custom.zone === null || typeof custom.zone.hostedZoneId !== 'string') {
      throw new Error('Keyhole: customDomain.zone is required: the Route 53 hosted zone of the domain (e.g. HostedZone.fromHostedZoneAttributes)');
    }
    const domainName = text('customDomain.domainName', custom.domainName);
    if (domainName === undefined) {
      throw new Error('Keyhole: customDomain.domainName is required, e.g. assets.example.com');
    }
    const zoneName = knownZoneName(custom.zone);
    if (zoneName !== undefined && !Token.isUnresolved(domainName)) {
      const bare = (s: string) => s.replace(/\.$/, '').toLowerCase();
      const zone = bare(zoneName);
      const name = bare(domainName);
      if (name !== zone && !name.endsWith(`.${zone}`)) {
        throw new Error(`Keyhole: customDomain.domainName ${domainName} is not in the hosted zone ${zoneName}`);
      }
    }
    let certificate = custom.certificate;
    if (certificate !== undefined) {
      // An imported certificate's env is its stack's; its ARN says where it really is.
      const arn = certificate.certificateArn;
      const region = Token.isUnresolved(arn) ? certificate.env.region : arn.split(':')[3];
      if (!Token.isUnresolved(region) && region !== CERTIFICATE_REGION) {
        throw new Error(`Keyhole: customDomain.certificate is in ${region}; CloudFront reads certificates only in ${CERTIFICATE_REGION}`);
      }
    } else {
      if (Token.isUnresolved(stack.region) || stack.region !== CERTIFICATE_REGION) {
        const where = Token.isUnresolved(stack.region) ? 'is not known at synth (the stack has no env.region)' : `is ${stack.region}`;
        throw new Error(
          `Keyhole: customDomain without a certificate creates one in this stack, but the stack's region ${where} and ` +
            `CloudFront reads certificates only in ${CERTIFICATE_REGION}. Deploy the stack with env: { region: '${CERTIFICATE_REGION}' }, ` +
            `or pass customDomain.certificate (made in a ${CERTIFICATE_REGION} stack, with crossRegionReferences: true).`,
        );
      }
      certificate = new acm.Certificate(this, 'Certificate', {
        domainName,
        validation: acm.CertificateValidation.fromDns(custom.zone),
      });
    }
    return { zone: custom.zone, domainName, certificate };
  }
}

/**
 * CfnInclude reads templates from files only: the specialized template goes through a temporary
 * one, which is gone again once CfnInclude has read it.
 */
function includeSpecialized(scope: Construct, template: object, values: Record<string, string>): CfnInclude {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'keyhole-template-'));
  try {
    const templateFile = path.join(dir, 'template.json');
    fs.writeFileSync(templateFile, JSON.stringify(template));
    return new CfnInclude(scope, 'Template', { templateFile, parameters: values });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The same pairs the signer insists on at start-up, said at synth instead. */
function checkTrust(props: KeyholeProps): void {
  const pool = props.userPoolId !== undefined;
  const clients = props.userPoolClientId !== undefined;
  const issuer = props.oidcIssuer !== undefined;
  const audience = props.oidcAudience !== undefined;
  if (pool && !clients) {
    throw new Error('Keyhole: userPoolId needs userPoolClientId, the app client whose tokens are accepted');
  }
  if (clients && !pool) {
    throw new Error('Keyhole: userPoolClientId needs userPoolId, the user pool the client belongs to');
  }
  if (issuer && !audience) {
    throw new Error("Keyhole: oidcIssuer needs oidcAudience: without it a token the issuer minted for any other application would be accepted");
  }
  if (audience && !issuer) {
    throw new Error('Keyhole: oidcAudience needs oidcIssuer, the issuer whose tokens carry that audience');
  }
  if (!pool && !issuer) {
    throw new Error(
      'Keyhole: say whose tokens to trust: userPoolId with userPoolClientId (Cognito, as in the CDK recipe), ' +
        'or oidcIssuer with oidcAudience (any OIDC issuer)',
    );
  }
  if (pool && issuer && props.jwksUrl !== undefined) {
    throw new Error('Keyhole: jwksUrl serves one issuer; with both a Cognito user pool and an OIDC issuer trusted, leave it out');
  }
}

function text(prop: string, value: unknown): string | undefined {
  if (value === undefined) {
    return undefined;
  }
  if (typeof value !== 'string') {
    throw new Error(`Keyhole: ${prop} must be a string, got ${typeof value}`);
  }
  if (value.trim() === '') {
    throw new Error(`Keyhole: ${prop} is empty; leave it out instead`);
  }
  return value;
}

function list(prop: string, value: unknown): string | undefined {
  if (!Array.isArray(value)) {
    return text(prop, value);
  }
  if (value.length === 0) {
    throw new Error(`Keyhole: ${prop} is an empty list; leave it out instead`);
  }
  return value
    .map((item, i) => {
      const s = text(`${prop}[${i}]`, item) as string;
      if (!Token.isUnresolved(s) && s.includes(',')) {
        throw new Error(`Keyhole: ${prop}[${i}] contains a comma; give each entry as its own list item`);
      }
      return s;
    })
    .join(',');
}

function seconds(prop: string, value: unknown): string | undefined {
  if (value === undefined) {
    return undefined;
  }
  if (!(value instanceof Duration)) {
    throw new Error(`Keyhole: ${prop} must be a Duration, e.g. Duration.hours(1)`);
  }
  try {
    return String(value.toSeconds());
  } catch {
    throw new Error(`Keyhole: ${prop} must be a whole number of seconds, got ${value.toHumanString()}`);
  }
}

function days(prop: string, value: unknown): string | undefined {
  if (value === undefined) {
    return undefined;
  }
  if (!(value instanceof Duration)) {
    throw new Error(`Keyhole: ${prop} must be a Duration, e.g. Duration.days(30)`);
  }
  try {
    return String(value.toDays());
  } catch {
    throw new Error(`Keyhole: ${prop} must be a whole number of days, got ${value.toHumanString()}`);
  }
}

function num(prop: string, value: unknown): string | undefined {
  if (value === undefined) {
    return undefined;
  }
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new Error(`Keyhole: ${prop} must be a whole number, got ${JSON.stringify(value)}`);
  }
  return String(value);
}

function keyArn(prop: string, key: unknown): string | undefined {
  if (key === undefined) {
    return undefined;
  }
  if (key === null || typeof key !== 'object' || typeof (key as kms.IKey).keyArn !== 'string') {
    throw new Error(`Keyhole: ${prop} must be a KMS key (kms.IKey), e.g. kms.Key.fromKeyArn(...)`);
  }
  return (key as kms.IKey).keyArn;
}

function knownZoneName(zone: route53.IHostedZone): string | undefined {
  try {
    // HostedZone.fromHostedZoneId() zones throw here: they have no name to check against.
    const name = zone.zoneName;
    return Token.isUnresolved(name) ? undefined : name;
  } catch {
    return undefined;
  }
}
