// Unit tests of the Keyhole construct with aws-cdk-lib/assertions. Offline, and with bundling
// skipped: the Lambdas are not built here (make cdk-synth builds them in a real synth).

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { App, CfnParameter, Duration, Stack, StackProps } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as route53 from 'aws-cdk-lib/aws-route53';
import { Keyhole, KeyholeProps } from '../src';
import { parametersOf, readTemplate, specialize } from '../src/template';

const REPO = path.resolve(__dirname, '..', '..', '..');
const SAM_TEMPLATE = path.join(REPO, 'infra', 'sam-template.yaml');
const EDGE_CHECK = path.join(REPO, 'functions', 'edge-check', 'index.js');
const ENV = { account: '111111111111', region: 'us-east-1' };
const COGNITO = { userPoolId: 'eu-west-1_AbCdEf123', userPoolClientId: 'client-one' };
const WEB_ACL_ARN = 'arn:aws:wafv2:us-east-1:111111111111:global/webacl/keyhole/a1b2c3d4-5678-90ab-cdef-0123456789ab';
const SECRET_KEY_ARN = 'arn:aws:kms:us-east-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const CERT_ARN = 'arn:aws:acm:us-east-1:111111111111:certificate/12345678-90ab-cdef-1234-567890abcdef';

function newStack(stackProps: StackProps = { env: ENV }): Stack {
  // Bundling skipped for every stack: no cargo at unit-test time.
  // Asset metadata on, as the CDK CLI has it.
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [], 'aws:cdk:enable-asset-metadata': true } });
  return new Stack(app, 'Test', stackProps);
}

function zoneIn(stack: Stack): route53.IHostedZone {
  return route53.HostedZone.fromHostedZoneAttributes(stack, 'Zone', { hostedZoneId: 'Z0123456789ABCDEFGHIJ', zoneName: 'example.com' });
}

function synth(props: Partial<KeyholeProps> = {}, stack = newStack()): { keyhole: Keyhole; template: Template; stack: Stack } {
  const keyhole = new Keyhole(stack, 'Keyhole', { ...COGNITO, ...props } as KeyholeProps);
  return { keyhole, template: Template.fromStack(stack), stack };
}

function signerVariables(template: Template): Record<string, unknown> {
  return template.toJSON().Resources.SignerFunction.Properties.Environment.Variables;
}

/** A value with an argument-free Fn::Sub unwrapped, as CloudFormation would read it. */
function plain(value: unknown): unknown {
  if (value !== null && typeof value === 'object' && 'Fn::Sub' in value) {
    const sub = (value as { 'Fn::Sub': unknown })['Fn::Sub'];
    if (typeof sub === 'string' && !sub.includes('${')) {
      return sub;
    }
  }
  return value;
}

function throwsWith(props: unknown, message: RegExp, stack = newStack()): void {
  assert.throws(() => new Keyhole(stack, 'Keyhole', props as KeyholeProps), message);
}

describe('props map to the template parameters', () => {
  test('the CDK recipe props set the Cognito parameters', () => {
    const { keyhole, template } = synth({ userPoolClientId: ['client-one', 'client-two'] });
    assert.equal(keyhole.parameterValues.CognitoUserPoolId, 'eu-west-1_AbCdEf123');
    assert.equal(keyhole.parameterValues.CognitoClientIds, 'client-one,client-two');
    const vars = signerVariables(template);
    assert.equal(vars.COGNITO_USER_POOL_ID, 'eu-west-1_AbCdEf123');
    assert.equal(vars.COGNITO_CLIENT_ID, 'client-one,client-two');
    assert.equal(vars.OIDC_ISSUER, undefined, 'an unset issuer is left out, not set to ""');
  });

  test("every one of Keyhole's own props reaches what its parameter sets", () => {
    const { keyhole, template } = synth({
      oidcIssuer: 'https://login.example.com/',
      oidcAudience: ['photos', 'photos-admin'],
      tokenUse: 'access',
      requiredGroups: ['viewers', 'admins'],
      sessionScopes: ['/users/{sub}/*', '/shared/*'],
      sessionTtl: Duration.hours(8),
      keyRotationDays: 7,
      cookieSameSite: 'Strict',
      cookieDomain: 'example.com',
      allowedOrigins: ['https://app.example.com', 'https://admin.example.com'],
      assetCacheControl: 'private, max-age=300',
      signInUrl: 'https://app.example.com/sign-in',
      priceClass: cloudfront.PriceClass.PRICE_CLASS_ALL,
      logRetention: logs.RetentionDays.THREE_MONTHS,
      assetBucketName: 'photos-of-example-com',
      noncurrentVersionExpiration: Duration.days(90),
      throttleRateLimit: 20,
      throttleBurstLimit: 40,
      signerReservedConcurrency: 10,
      cloudFrontLogBucket: 'CREATE',
      webAclArn: WEB_ACL_ARN,
    });
    assert.deepEqual(keyhole.parameterValues, {
      CognitoUserPoolId: 'eu-west-1_AbCdEf123',
      CognitoClientIds: 'client-one',
      OidcIssuer: 'https://login.example.com/',
      OidcAudience: 'photos,photos-admin',
      JwksUrl: '',
      TokenUse: 'access',
      RequiredGroups: 'viewers,admins',
      SessionScopes: '/users/{sub}/*,/shared/*',
      SessionTtlSeconds: '28800',
      KeyRotationDays: '7',
      CookieSameSite: 'Strict',
      CookieDomain: 'example.com',
      AllowedOrigins: 'https://app.example.com,https://admin.example.com',
      AssetCacheControl: 'private, max-age=300',
      SignInUrl: 'https://app.example.com/sign-in',
      DomainName: '',
      HostedZoneId: '',
      CertificateArn: '',
      ExistingBucketName: '',
      PriceClass: 'PriceClass_All',
      LogRetentionDays: '90',
      NoncurrentVersionDays: '90',
      ThrottleRateLimit: '20',
      ThrottleBurstLimit: '40',
      SignerReservedConcurrency: '10',
      CloudFrontLogBucket: 'CREATE',
      WebAclArn: WEB_ACL_ARN,
      SecretKmsKeyArn: '',
      LogsKmsKeyArn: '',
    });
    assert.deepEqual(signerVariables(template), {
      COGNITO_USER_POOL_ID: 'eu-west-1_AbCdEf123',
      COGNITO_CLIENT_ID: 'client-one',
      OIDC_ISSUER: 'https://login.example.com/',
      OIDC_AUDIENCE: 'photos,photos-admin',
      TOKEN_USE: 'access',
      REQUIRED_GROUPS: 'viewers,admins',
      ASSET_BASE_URL: { 'Fn::Sub': 'https://${Distribution.DomainName}' },
      SESSION_SCOPES: '/users/{sub}/*,/shared/*',
      SESSION_TTL_SECONDS: '28800',
      SIGNING_KEY_SECRET_ID: { Ref: 'SigningKeySecret' },
      COOKIE_DOMAIN: 'example.com',
      COOKIE_SAMESITE: 'Strict',
      ALLOWED_ORIGINS: 'https://app.example.com,https://admin.example.com',
      REVOCATION_KVS_ARN: { 'Fn::GetAtt': ['RevocationStore', 'Arn'] },
    });
    template.hasResourceProperties('AWS::CloudFront::Distribution', {
      DistributionConfig: Match.objectLike({ PriceClass: 'PriceClass_All' }),
    });
    for (const group of ['SignerLogGroup', 'KeySetupLogGroup', 'KeyRotationLogGroup']) {
      assert.equal(Number(template.toJSON().Resources[group].Properties.RetentionInDays), 90, group);
    }
    template.hasResourceProperties('AWS::S3::Bucket', { BucketName: 'photos-of-example-com' });
    const resources = template.toJSON().Resources;
    const assetRules = resources.AssetBucket.Properties.LifecycleConfiguration.Rules;
    assert.equal(resources.AssetBucket.Properties.VersioningConfiguration.Status, 'Enabled');
    assert.equal(Number(assetRules.find((r: { Id: string }) => r.Id === 'expire-noncurrent-versions').NoncurrentVersionExpiration.NoncurrentDays), 90);
    const routes = resources.SessionApiStage.Properties.DefaultRouteSettings;
    assert.deepEqual([Number(routes.ThrottlingRateLimit), Number(routes.ThrottlingBurstLimit)], [20, 40]);
    assert.equal(Number(resources.SignerFunction.Properties.ReservedConcurrentExecutions), 10);
    const config = resources.Distribution.Properties.DistributionConfig;
    assert.equal(config.WebACLId, WEB_ACL_ARN);
    assert.deepEqual(config.Logging.Bucket, { 'Fn::GetAtt': ['CloudFrontLogs', 'DomainName'] });
    assert.equal(config.Logging.IncludeCookies, false);
    assert.equal(Number(resources.CloudFrontLogs.Properties.LifecycleConfiguration.Rules[0].ExpirationInDays), 90);
    const code = template.toJSON().Resources.EdgeCheckFunction.Properties.FunctionCode['Fn::Sub'] as string;
    assert.ok(code.split('\n').includes("const SIGN_IN_URL = 'https://app.example.com/sign-in';"), 'signInUrl is not on the edge check line');
  });

  test('customer-managed KMS keys reach the secret and the log groups, and the roles may use the secret\'s key', () => {
    const stack = newStack();
    const secretKey = kms.Key.fromKeyArn(stack, 'SecretKey', SECRET_KEY_ARN);
    const logsKey = new kms.Key(stack, 'LogsKey');
    const { template } = synth({ secretKmsKey: secretKey, logsKmsKey: logsKey }, stack);
    const resources = template.toJSON().Resources;
    assert.equal(resources.SigningKeySecret.Properties.KmsKeyId, SECRET_KEY_ARN);
    for (const group of ['SignerLogGroup', 'KeySetupLogGroup', 'SessionApiLogGroup']) {
      assert.deepEqual(resources[group].Properties.KmsKeyId, { 'Fn::GetAtt': [stack.getLogicalId(logsKey.node.defaultChild as kms.CfnKey), 'Arn'] }, group);
    }
    const kmsStatements = (fn: string) =>
      resources[fn].Properties.Policies[0].Statement.filter((st: { Action: string | string[] }) => JSON.stringify(st.Action).includes('kms:'));
    assert.deepEqual(kmsStatements('SignerFunction').map((st: { Action: unknown; Resource: unknown }) => [st.Action, st.Resource]), [['kms:Decrypt', SECRET_KEY_ARN]]);
    assert.deepEqual(kmsStatements('KeySetupFunction').map((st: { Action: unknown; Resource: unknown }) => [st.Action, st.Resource]), [[['kms:GenerateDataKey', 'kms:Decrypt'], SECRET_KEY_ARN]]);
  });

  test('without the protection props: versioned for 30 days, throttled at 100/s, nothing reserved, no CloudFront logs, no web ACL, AWS-managed keys', () => {
    const { template } = synth();
    const resources = template.toJSON().Resources;
    assert.equal(resources.AssetBucket.Properties.VersioningConfiguration.Status, 'Enabled');
    const routes = resources.SessionApiStage.Properties.DefaultRouteSettings;
    assert.deepEqual([Number(routes.ThrottlingRateLimit), Number(routes.ThrottlingBurstLimit)], [100, 200]);
    assert.ok(resources.SessionApiStage.Properties.AccessLogSettings.DestinationArn, 'the API writes no access log');
    assert.equal(resources.SignerFunction.Properties.ReservedConcurrentExecutions, undefined, 'a 0 reservation would turn the signer off');
    const config = resources.Distribution.Properties.DistributionConfig;
    assert.equal(config.Logging, undefined);
    assert.equal(config.WebACLId, undefined);
    assert.equal(resources.CloudFrontLogs, undefined);
    assert.equal(resources.SigningKeySecret.Properties.KmsKeyId, undefined);
    for (const fn of ['SignerFunction', 'KeySetupFunction']) {
      assert.ok(!JSON.stringify(resources[fn].Properties.Policies).includes('kms:'), `${fn} is granted KMS without a key`);
    }
  });

  test('props left out take the template defaults', () => {
    const { keyhole, template } = synth();
    const defaults = parametersOf(readTemplate(SAM_TEMPLATE));
    for (const name of ['TokenUse', 'SessionScopes', 'SessionTtlSeconds', 'CookieSameSite', 'PriceClass', 'LogRetentionDays']) {
      assert.equal(keyhole.parameterValues[name], String(defaults[name].Default), name);
    }
    const vars = signerVariables(template);
    assert.equal(vars.SESSION_SCOPES, '/users/{sub}/*');
    assert.equal(vars.SESSION_TTL_SECONDS, '3600');
    for (const unset of ['OIDC_ISSUER', 'OIDC_AUDIENCE', 'JWKS_URL', 'REQUIRED_GROUPS', 'COOKIE_DOMAIN', 'ALLOWED_ORIGINS']) {
      assert.ok(!(unset in vars), `${unset} is set though no prop asked for it`);
    }
    const code = template.toJSON().Resources.EdgeCheckFunction.Properties.FunctionCode['Fn::Sub'] as string;
    assert.equal(code.trimEnd(), fs.readFileSync(EDGE_CHECK, 'utf8').trimEnd(), 'the edge check is not functions/edge-check/index.js');
  });

  test('every template parameter is set from a prop, so none is left for a deploy to get wrong', () => {
    const { keyhole, template } = synth();
    const templateParameters = Object.keys(parametersOf(readTemplate(SAM_TEMPLATE))).sort();
    assert.deepEqual(Object.keys(keyhole.parameterValues).sort(), templateParameters);
    const json = template.toJSON();
    assert.deepEqual(Object.keys(json.Parameters ?? {}), ['BootstrapVersion'], 'only the CDK bootstrap parameter remains');
    assert.equal(json.Conditions, undefined, 'every condition is decided at synth');
    assert.deepEqual(Object.keys(json.Rules ?? {}), ['CheckBootstrapVersion']);
  });

  test('values only known at deploy time go in as references and count as set', () => {
    const stack = newStack();
    const pool = new cognito.UserPool(stack, 'Users');
    const client = pool.addClient('Web');
    const ttl = new CfnParameter(stack, 'Groups', { type: 'String' });
    const { template } = synth({ userPoolId: pool.userPoolId, userPoolClientId: client.userPoolClientId, requiredGroups: ttl.valueAsString }, stack);
    const vars = signerVariables(template);
    assert.deepEqual(vars.COGNITO_USER_POOL_ID, { Ref: stack.getLogicalId(pool.node.defaultChild as cognito.CfnUserPool) });
    assert.deepEqual(vars.COGNITO_CLIENT_ID, { Ref: stack.getLogicalId(client.node.defaultChild as cognito.CfnUserPoolClient) });
    assert.deepEqual(vars.REQUIRED_GROUPS, { Ref: 'Groups' });
  });

  test('the template keeps its Serverless transform and the functions run the built assets', () => {
    const { template, stack } = synth();
    const json = template.toJSON();
    assert.equal(json.Transform, 'AWS::Serverless-2016-10-31');
    const assets = stack.node.root.node.findAll().filter((c) => c.node.id.endsWith('FunctionCode'));
    assert.equal(assets.length, 3);
    for (const name of ['SignerFunction', 'KeySetupFunction', 'KeyRotationFunction']) {
      const fn = json.Resources[name];
      assert.equal(fn.Type, 'AWS::Serverless::Function');
      assert.deepEqual(Object.keys(fn.Properties.CodeUri).sort(), ['Bucket', 'Key'], `${name} still has a local CodeUri`);
      assert.match(fn.Properties.CodeUri.Key, /^[0-9a-f]{64}\.zip$/);
      assert.equal(fn.Metadata['aws:asset:property'], 'CodeUri');
    }
  });
});

describe('the bucket', () => {
  test('an imported bucket creates no bucket and no bucket policy', () => {
    const { keyhole, template, stack } = synth({ assetBucketNameImport: 'existing-photos' });
    template.resourceCountIs('AWS::S3::Bucket', 0);
    template.resourceCountIs('AWS::S3::BucketPolicy', 0);
    const origin = template.toJSON().Resources.Distribution.Properties.DistributionConfig.Origins[0];
    assert.deepEqual(origin.DomainName, { 'Fn::Sub': 'existing-photos.s3.${AWS::Region}.${AWS::URLSuffix}' });
    assert.equal(stack.resolve(keyhole.bucket.bucketName), 'existing-photos');
    template.hasOutput('ExistingBucketPolicyStatement', {});
    template.hasOutput('BucketName', { Value: 'existing-photos' });
  });

  test('a created bucket is the private one the template makes, and an app can grant its uploaders on it', () => {
    const stack = newStack();
    const keyhole = new Keyhole(stack, 'Keyhole', COGNITO);
    const uploader = new iam.Role(stack, 'Uploader', { assumedBy: new iam.AccountRootPrincipal() });
    keyhole.bucket.grantPut(uploader, 'users/*');
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::S3::Bucket', 1);
    template.resourceCountIs('AWS::S3::BucketPolicy', 1);
    assert.equal(template.toJSON().Outputs.ExistingBucketPolicyStatement, undefined);
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: Match.arrayWith(['s3:PutObject']),
            Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': ['AssetBucket', 'Arn'] }, '/users/*']] },
          }),
        ]),
      },
    });
  });
});

describe('the custom domain', () => {
  test('a custom domain adds the A and AAAA alias records and a DNS-validated certificate', () => {
    const stack = newStack();
    const { keyhole, template } = synth({ customDomain: { zone: zoneIn(stack), domainName: 'assets.example.com' } }, stack);
    template.hasResourceProperties('AWS::Route53::RecordSetGroup', {
      HostedZoneId: 'Z0123456789ABCDEFGHIJ',
      RecordSets: ['A', 'AAAA'].map((type) => ({
        Name: 'assets.example.com',
        Type: type,
        AliasTarget: { DNSName: { 'Fn::GetAtt': ['Distribution', 'DomainName'] }, HostedZoneId: 'Z2FDTNDATAQYW2' },
      })),
    });
    template.hasResourceProperties('AWS::CertificateManager::Certificate', {
      DomainName: 'assets.example.com',
      ValidationMethod: 'DNS',
      DomainValidationOptions: [{ DomainName: 'assets.example.com', HostedZoneId: 'Z0123456789ABCDEFGHIJ' }],
    });
    const config = template.toJSON().Resources.Distribution.Properties.DistributionConfig;
    assert.deepEqual(config.Aliases, ['assets.example.com']);
    assert.deepEqual(config.ViewerCertificate.AcmCertificateArn, { Ref: stack.getLogicalId(keyhole.certificate!.node.defaultChild as acm.CfnCertificate) });
    assert.equal(plain(signerVariables(template).ASSET_BASE_URL), 'https://assets.example.com');
    assert.equal(plain(stack.resolve(keyhole.siteUrl)), 'https://assets.example.com');
    assert.equal(plain(stack.resolve(keyhole.sessionEndpoint)), 'https://assets.example.com/session');
  });

  test('a certificate passed in is used as it is, from a stack in any region', () => {
    const stack = newStack({ env: { account: '111111111111', region: 'eu-west-1' } });
    const certificate = acm.Certificate.fromCertificateArn(stack, 'Cert', CERT_ARN);
    const { template } = synth({ customDomain: { zone: zoneIn(stack), domainName: 'assets.example.com', certificate } }, stack);
    template.resourceCountIs('AWS::CertificateManager::Certificate', 0);
    template.resourceCountIs('AWS::Route53::RecordSetGroup', 1);
    const config = template.toJSON().Resources.Distribution.Properties.DistributionConfig;
    assert.equal(config.ViewerCertificate.AcmCertificateArn, CERT_ARN);
  });

  test('a hosted zone made in the same stack is referred to, not looked up', () => {
    const stack = newStack();
    const zone = new route53.PublicHostedZone(stack, 'NewZone', { zoneName: 'example.com' });
    const { template } = synth({ customDomain: { zone, domainName: 'assets.example.com' } }, stack);
    template.hasResourceProperties('AWS::Route53::RecordSetGroup', {
      HostedZoneId: { Ref: stack.getLogicalId(zone.node.defaultChild as route53.CfnHostedZone) },
    });
  });

  test('without a custom domain there are no records and CloudFront uses its own certificate', () => {
    const { template } = synth();
    template.resourceCountIs('AWS::Route53::RecordSetGroup', 0);
    template.resourceCountIs('AWS::CertificateManager::Certificate', 0);
    const config = template.toJSON().Resources.Distribution.Properties.DistributionConfig;
    assert.equal(config.Aliases, undefined);
    assert.deepEqual(config.ViewerCertificate, { CloudFrontDefaultCertificate: true });
  });
});

describe('bad props get a clear error', () => {
  test('every required prop is enforced', () => {
    throwsWith(undefined, /props are required/);
    throwsWith({}, /say whose tokens to trust: userPoolId with userPoolClientId/);
    throwsWith({ userPoolId: COGNITO.userPoolId }, /userPoolId needs userPoolClientId/);
    throwsWith({ userPoolClientId: 'client-one' }, /userPoolClientId needs userPoolId/);
    throwsWith({ oidcIssuer: 'https://login.example.com/' }, /oidcIssuer needs oidcAudience/);
    throwsWith({ oidcAudience: 'photos' }, /oidcAudience needs oidcIssuer/);
    throwsWith({ ...COGNITO, customDomain: { domainName: 'assets.example.com' } }, /customDomain.zone is required/);
    const stack = newStack();
    throwsWith({ ...COGNITO, customDomain: { zone: zoneIn(stack) } }, /customDomain.domainName is required/, stack);
  });

  test('values the template parameters would refuse are refused at synth, naming the prop', () => {
    const cases: Array<[Partial<KeyholeProps>, RegExp]> = [
      [{ userPoolId: 'not-a-pool' }, /userPoolId does not match .*CognitoUserPoolId/],
      [{ oidcIssuer: 'http://login.example.com', oidcAudience: 'a' }, /oidcIssuer does not match/],
      [{ sessionTtl: Duration.seconds(10) }, /sessionTtl must be at least 60, got "10"/],
      [{ sessionTtl: Duration.days(8) }, /sessionTtl must be at most 604800/],
      [{ sessionTtl: Duration.millis(1500) }, /sessionTtl must be a whole number of seconds/],
      [{ sessionTtl: 3600 as unknown as Duration }, /sessionTtl must be a Duration/],
      [{ logRetention: logs.RetentionDays.INFINITE }, /logRetention must be one of/],
      [{ noncurrentVersionExpiration: Duration.hours(36) }, /noncurrentVersionExpiration must be a whole number of days/],
      [{ noncurrentVersionExpiration: Duration.days(0) }, /noncurrentVersionExpiration must be at least 1/],
      [{ throttleRateLimit: 0 }, /throttleRateLimit must be at least 1/],
      [{ throttleBurstLimit: 2.5 }, /throttleBurstLimit must be a whole number/],
      [{ signerReservedConcurrency: -1 }, /signerReservedConcurrency must be at least 0/],
      [{ cloudFrontLogBucket: 'create' }, /cloudFrontLogBucket does not match/],
      [{ cloudFrontLogBucket: 'Logs_Bucket' }, /cloudFrontLogBucket does not match/],
      [{ webAclArn: 'arn:aws:wafv2:eu-west-1:111111111111:regional/webacl/keyhole/a1b2c3d4-5678-90ab-cdef-0123456789ab' }, /webAclArn does not match/],
      [{ secretKmsKey: 'alias/mine' as unknown as kms.IKey }, /secretKmsKey must be a KMS key/],
      [{ tokenUse: 'refresh' as 'id' }, /tokenUse must be one of "id", "access", "any"/],
      [{ cookieSameSite: 'lax' as 'Lax' }, /cookieSameSite must be one of/],
      [{ signInUrl: "https://x.example.com/';alert(1);//" }, /signInUrl does not match/],
      [{ signInUrl: 'https://x.example.com/${AWS::Region}' }, /signInUrl must not contain "\$\{"/],
      [{ allowedOrigins: ['https://a.example.com,https://b.example.com'] }, /allowedOrigins\[0\] contains a comma/],
      [{ allowedOrigins: [] }, /allowedOrigins is an empty list/],
      [{ assetCacheControl: 'public, max-age=86400' }, /assetCacheControl/],
      [{ cookieDomain: '' }, /cookieDomain is empty/],
      [{ assetBucketName: 'Not_A_Bucket' }, /assetBucketName must be a valid S3 bucket name/],
      [{ assetBucketNameImport: 'UPPER' }, /assetBucketNameImport does not match/],
      [{ assetBucketName: 'new-photos', assetBucketNameImport: 'old-photos' }, /assetBucketName .* or assetBucketNameImport .*, not both/],
      [{ oidcIssuer: 'https://login.example.com/', oidcAudience: 'a', jwksUrl: 'https://login.example.com/jwks' }, /jwksUrl serves one issuer/],
      [{ sourceDir: os.tmpdir() }, /is not a Keyhole checkout \(no infra\/sam-template.yaml\)/],
    ];
    for (const [props, message] of cases) {
      throwsWith({ ...COGNITO, ...props }, message);
    }
  });

  test('a custom domain needs a certificate CloudFront can read', () => {
    let stack = newStack({ env: { account: '111111111111', region: 'eu-west-1' } });
    throwsWith({ ...COGNITO, customDomain: { zone: zoneIn(stack), domainName: 'assets.example.com' } }, /stack's region is eu-west-1 .*pass customDomain.certificate/, stack);
    stack = newStack({});
    throwsWith({ ...COGNITO, customDomain: { zone: zoneIn(stack), domainName: 'assets.example.com' } }, /region is not known at synth/, stack);
    stack = newStack();
    const elsewhere = acm.Certificate.fromCertificateArn(stack, 'Cert', CERT_ARN.replace('us-east-1', 'eu-west-1'));
    throwsWith({ ...COGNITO, customDomain: { zone: zoneIn(stack), domainName: 'assets.example.com', certificate: elsewhere } }, /certificate is in eu-west-1; CloudFront reads certificates only in us-east-1/, stack);
    stack = newStack();
    throwsWith({ ...COGNITO, customDomain: { zone: zoneIn(stack), domainName: 'assets.example.org' } }, /assets.example.org is not in the hosted zone example.com/, stack);
  });

  test('one Keyhole per stack', () => {
    const stack = newStack();
    new Keyhole(stack, 'First', COGNITO);
    throwsWith(COGNITO, /already has a Keyhole; use one stack per Keyhole/, stack);
  });
});

describe('specializing the template', () => {
  const template = {
    Parameters: { Name: { Type: 'String', Default: '' }, Mode: { Type: 'String', Default: 'a' } },
    Conditions: { HasName: { 'Fn::Not': [{ 'Fn::Equals': [{ Ref: 'Name' }, ''] }] }, ModeB: { 'Fn::Equals': [{ Ref: 'Mode' }, 'b'] } },
    Resources: { Topic: { Type: 'AWS::SNS::Topic', Condition: 'HasName', Properties: { TopicName: { Ref: 'Name' } } } },
  };

  test('a condition is decided for a literal value, and a token counts as given', () => {
    assert.deepEqual(Object.keys(specialize(template, { Name: '', Mode: 'b' }).Resources as object), []);
    const stack = newStack();
    const name = new CfnParameter(stack, 'P').valueAsString;
    const out = specialize(template, { Name: name, Mode: 'a' }) as { Resources: Record<string, { Condition?: string }> };
    assert.deepEqual(Object.keys(out.Resources), ['Topic']);
    assert.equal(out.Resources.Topic.Condition, undefined);
  });

  test('a condition that compares a token with anything but "" is refused', () => {
    const stack = newStack();
    const mode = new CfnParameter(stack, 'P').valueAsString;
    assert.throws(() => specialize(template, { Name: '', Mode: mode }), /condition ModeB needs the value of Mode at synth/);
  });
});
