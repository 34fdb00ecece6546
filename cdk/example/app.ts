// An app as a team coming from the CDK recipe would write it: its own Cognito user pool, Keyhole on
// assets.example.com, and an uploader role that may write under users/. `make cdk-synth` runs a
// real `cdk synth` of it (offline, no credentials), which builds both Lambdas for arm64.

import { App, Duration, Stack } from 'aws-cdk-lib';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as route53 from 'aws-cdk-lib/aws-route53';
import { Keyhole } from '../src';

// CDK's own template validation as errors, not warnings: the synthesized template must be clean.
const app = new App({ context: { '@aws-cdk/core:validateAgainstDefaultRules': true } });
// An explicit account and region: nothing is looked up, and the certificate can live in this stack
// because it is in us-east-1.
const stack = new Stack(app, 'KeyholeExample', { env: { account: '111111111111', region: 'us-east-1' } });

const users = new cognito.UserPool(stack, 'Users', { selfSignUpEnabled: false });
const web = users.addClient('Web');
const zone = route53.HostedZone.fromHostedZoneAttributes(stack, 'Zone', {
  hostedZoneId: 'Z0123456789ABCDEFGHIJ',
  zoneName: 'example.com',
});

const keyhole = new Keyhole(stack, 'Keyhole', {
  userPoolId: users.userPoolId,
  userPoolClientId: web.userPoolClientId,
  customDomain: { zone, domainName: 'assets.example.com' },
  sessionTtl: Duration.hours(8),
  allowedOrigins: ['https://app.example.com'],
  signInUrl: 'https://app.example.com/sign-in',
  // CloudFront's standard logs into a bucket the stack makes, kept for the log retention.
  cloudFrontLogBucket: 'CREATE',
});

// The app's own uploaders: PutObject under users/ and nothing else.
const uploader = new iam.Role(stack, 'Uploader', { assumedBy: new iam.AccountRootPrincipal() });
uploader.addToPolicy(new iam.PolicyStatement({ actions: ['s3:PutObject'], resources: [keyhole.bucket.arnForObjects('users/*')] }));
