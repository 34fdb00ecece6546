"""Assertions over infra/sam-template.yaml after the SAM translator has expanded it, and proof that
each assertion catches the violation it is about (planted in a copy of the template).

The same assertions run over the template the CDK construct (cdk/) synthesizes from this one: the
`cfn` fixture is both. Run with `make test-infra` (the SAM template) and `make test-cdk` (which
synthesizes the CDK example app first and names its template in KEYHOLE_CDK_TEMPLATE). No AWS
account or network needed: the translator runs offline with a region given to it.
"""

import copy
import json
import os
import pathlib
import re
import subprocess

import boto3
import pytest
from samcli.yamlhelper import yaml_parse
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator

ROOT = pathlib.Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "infra" / "sam-template.yaml"
EDGE_CHECK = ROOT / "functions" / "edge-check" / "index.js"

# CloudFront managed policies (ids from the CloudFront developer guide).
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
ALL_VIEWER_EXCEPT_HOST = "b689b0a8-53d0-40ab-baf2-68738e2966ac"
ALL_METHODS = {"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"}
LOGS_ONLY_MANAGED_POLICY = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
REQUIRED_OUTPUTS = {"SiteUrl", "SessionEndpoint", "BucketName", "KeyGroupId", "RevocationStoreArn"}
# The KeyValueStore data-plane calls the signer's deny-list writer makes (keyhole-revoke).
DENY_LIST_ACTIONS = [
    "cloudfront-keyvaluestore:DescribeKeyValueStore",
    "cloudfront-keyvaluestore:ListKeys",
    "cloudfront-keyvaluestore:UpdateKeys",
]
# LoggingConfig's allowed values (the CloudFormation reference for AWS::Lambda::Function).
APPLICATION_LOG_LEVELS = {"TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"}
SYSTEM_LOG_LEVELS = {"DEBUG", "INFO", "WARN"}
SIGNER_VARIABLES = {
    "COGNITO_USER_POOL_ID", "COGNITO_CLIENT_ID", "OIDC_ISSUER", "OIDC_AUDIENCE", "JWKS_URL",
    "TOKEN_USE", "REQUIRED_GROUPS", "ASSET_BASE_URL", "SESSION_SCOPES", "SESSION_TTL_SECONDS",
    "SIGNING_KEY_SECRET_ID", "COOKIE_DOMAIN", "COOKIE_SAMESITE", "ALLOWED_ORIGINS",
    "REVOCATION_KVS_ARN",
}


# --- loading -------------------------------------------------------------------------------------


def translate(sam_template: dict) -> dict:
    """The CloudFormation template SAM would deploy. A local CodeUri is replaced by an S3 location
    first, as `sam package` does after `sam build`; the translator accepts nothing else. (The CDK
    template's CodeUris already name its assets' S3 locations.)"""
    sam_template = copy.deepcopy(sam_template)
    for name, resource in sam_template["Resources"].items():
        if resource["Type"] == "AWS::Serverless::Function":
            code_uri = resource["Properties"]["CodeUri"]
            if isinstance(code_uri, str) and not code_uri.startswith("s3://"):
                resource["Properties"]["CodeUri"] = f"s3://keyhole-artifacts/{name}.zip"
    translator = Translator(None, Parser(), boto_session=boto3.session.Session(region_name="us-east-1"))
    return translator.translate(sam_template, parameter_values={}, get_managed_policy_map=dict)


@pytest.fixture(scope="module")
def source() -> dict:
    return yaml_parse(TEMPLATE.read_text())


@pytest.fixture(scope="module")
def sam_cfn(source) -> dict:
    return translate(source)


CDK_TEMPLATE = "KEYHOLE_CDK_TEMPLATE"


@pytest.fixture(scope="module", params=["sam", "cdk"])
def cfn(request, sam_cfn) -> dict:
    """Each template the project deploys: the SAM one, and the one the CDK construct makes of it."""
    if request.param == "sam":
        return sam_cfn
    synthesized = os.environ.get(CDK_TEMPLATE)
    if not synthesized:
        pytest.skip(f"no synthesized CDK template: `make test-cdk` synthesizes one and sets {CDK_TEMPLATE}")
    return translate(json.loads(pathlib.Path(synthesized).read_text()))


# --- helpers -------------------------------------------------------------------------------------


def resources_of(t: dict, kind: str) -> dict:
    return {k: v for k, v in t["Resources"].items() if v["Type"] == kind}


def only(t: dict, kind: str) -> tuple[str, dict]:
    found = resources_of(t, kind)
    assert len(found) == 1, f"expected exactly one {kind}, found {sorted(found)}"
    return next(iter(found.items()))


def refers_to(value, name: str) -> bool:
    """Whether an intrinsic (Ref, GetAtt, Sub) in `value` points at resource `name`."""
    text = json.dumps(value)
    return (
        f'{{"Ref": "{name}"}}' in text
        or f'"Fn::GetAtt": ["{name}"' in text
        or f"${{{name}}}" in text
        or f"${{{name}." in text
    )


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def distribution_config(t: dict) -> dict:
    return only(t, "AWS::CloudFront::Distribution")[1]["Properties"]["DistributionConfig"]


def behaviours(t: dict) -> list[dict]:
    config = distribution_config(t)
    return [config["DefaultCacheBehavior"], *config.get("CacheBehaviors", [])]


def origin(t: dict, origin_id: str) -> dict:
    found = [o for o in distribution_config(t)["Origins"] if o["Id"] == origin_id]
    assert len(found) == 1, f"no single origin {origin_id!r}"
    return found[0]


def is_bucket_origin(o: dict) -> bool:
    return "S3OriginConfig" in o or refers_to(o["DomainName"], "AssetBucket") or "ExistingBucketName" in json.dumps(o)


NO_VALUE = {"Ref": "AWS::NoValue"}


def when(value) -> tuple[str | None, object]:
    """(condition, value) of a value that may be `Fn::If [condition, value, AWS::NoValue]`: the
    SAM template keeps optional settings so; the CDK template has them decided (condition None),
    and a value left out is None."""
    if isinstance(value, dict) and list(value) == ["Fn::If"]:
        condition, yes, no = value["Fn::If"]
        assert no == NO_VALUE, f"an Fn::If whose false branch is not AWS::NoValue: {value}"
        return condition, yes
    return None, value


def statements_of(document: dict):
    """The statements of a policy document, an optional one (Fn::If) taken as its true branch."""
    for st in as_list(document["Statement"]):
        _, st = when(st)
        yield st


def iam_statements(t: dict):
    """(resource name, statement) for every identity policy statement the stack writes."""
    for name, r in t["Resources"].items():
        props = r.get("Properties", {})
        if r["Type"] == "AWS::IAM::Role":
            for policy in props.get("Policies", []):
                for st in statements_of(policy["PolicyDocument"]):
                    yield name, st
        elif r["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::RolePolicy"):
            for st in statements_of(props["PolicyDocument"]):
                yield name, st


def role_of(t: dict, function: str) -> tuple[str, dict]:
    role = t["Resources"][function]["Properties"]["Role"]
    assert "Fn::GetAtt" in role, f"{function} must use the role the stack writes"
    name = role["Fn::GetAtt"][0]
    return name, t["Resources"][name]


# The service authorization reference, as cfn-lint ships it: which actions name no resource type.
_POLICIES = json.loads(
    (pathlib.Path(__import__("cfnlint").__file__).parent / "data" / "AdditionalSpecs" / "Policies.json").read_text()
)


def accepts_no_resource_arn(action: str) -> bool:
    service, _, name = action.partition(":")
    entry = _POLICIES.get(service.lower(), {}).get("Actions", {}).get(name.lower())
    assert entry is not None, f"unknown IAM action {action}"
    return not entry.get("Resources")


# --- the checks ----------------------------------------------------------------------------------


def check_bucket_is_private(t: dict) -> None:
    """All public-access blocks on, encryption on, readable only by this distribution through
    OAC, and no plain-HTTP access."""
    bucket_name = "AssetBucket"
    props = t["Resources"][bucket_name]["Properties"]
    block = props.get("PublicAccessBlockConfiguration", {})
    for flag in ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"):
        assert block.get(flag) is True, f"bucket public-access block {flag} is not on"
    assert props.get("BucketEncryption", {}).get("ServerSideEncryptionConfiguration"), "bucket has no default encryption"

    policies = [p for p in resources_of(t, "AWS::S3::BucketPolicy").values() if refers_to(p["Properties"]["Bucket"], bucket_name)]
    assert len(policies) == 1, f"the asset bucket has {len(policies)} bucket policies"
    policy = policies[0]
    statements = as_list(policy["Properties"]["PolicyDocument"]["Statement"])
    allows = [s for s in statements if s["Effect"] == "Allow"]
    assert len(allows) == 1, f"bucket policy must allow exactly one thing, allows {len(allows)}"
    allow = allows[0]
    assert allow.get("Principal") == {"Service": "cloudfront.amazonaws.com"}, f"bucket readable by {allow.get('Principal')}"
    assert as_list(allow["Action"]) == ["s3:GetObject"], f"bucket policy allows {allow['Action']}"
    dist_name, _ = only(t, "AWS::CloudFront::Distribution")
    source_arn = allow.get("Condition", {}).get("StringEquals", {}).get("AWS:SourceArn")
    assert source_arn is not None, "bucket policy lacks the AWS:SourceArn condition"
    assert refers_to(source_arn, dist_name) and "distribution/" in json.dumps(source_arn), "AWS:SourceArn is not this distribution"

    denies = [
        s for s in statements
        if s["Effect"] == "Deny" and s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") in ("false", False)
    ]
    assert denies, "bucket policy does not deny non-TLS access"
    covered = json.dumps(denies[0]["Resource"])
    assert refers_to(denies[0]["Resource"], bucket_name) and "/*" in covered, "TLS deny must cover the bucket and its objects"

    oac_name, oac = only(t, "AWS::CloudFront::OriginAccessControl")
    oac_config = oac["Properties"]["OriginAccessControlConfig"]
    assert oac_config["OriginAccessControlOriginType"] == "s3" and oac_config["SigningBehavior"] == "always"
    bucket_origins = [o for o in distribution_config(t)["Origins"] if is_bucket_origin(o)]
    assert bucket_origins, "no bucket origin"
    for o in bucket_origins:
        assert refers_to(o.get("OriginAccessControlId"), oac_name), f"origin {o['Id']} does not use Origin Access Control"
        assert o.get("S3OriginConfig", {}).get("OriginAccessIdentity", "") == "", f"origin {o['Id']} uses a legacy OAI"


def check_asset_behaviours_are_locked(t: dict) -> None:
    """Every behaviour that serves the bucket requires signed cookies from the stack's key group,
    runs the edge check on viewer request, is HTTPS-only and keeps cookies out of the cache key."""
    func_name, _ = only(t, "AWS::CloudFront::Function")
    policies = resources_of(t, "AWS::CloudFront::CachePolicy")
    asset_behaviours = [b for b in behaviours(t) if is_bucket_origin(origin(t, b["TargetOriginId"]))]
    assert asset_behaviours, "no behaviour serves the bucket"
    for b in asset_behaviours:
        where = b.get("PathPattern", "default behaviour")
        groups = b.get("TrustedKeyGroups", [])
        assert groups, f"{where}: no trusted key group"
        assert all(refers_to(g, "KeySetup") for g in groups), f"{where}: key group is not the stack's"
        assert "TrustedSigners" not in b, f"{where}: legacy trusted signers"
        assoc = [a for a in b.get("FunctionAssociations", []) if a["EventType"] == "viewer-request"]
        assert len(assoc) == 1 and refers_to(assoc[0]["FunctionARN"], func_name), f"{where}: edge check not on viewer request"
        assert b["ViewerProtocolPolicy"] in ("https-only", "redirect-to-https"), f"{where}: serves plain HTTP"
        assert set(b.get("AllowedMethods", ["GET", "HEAD"])) <= {"GET", "HEAD", "OPTIONS"}, f"{where}: allows writes"
        cache_policy = b.get("CachePolicyId")
        assert isinstance(cache_policy, dict) and "Ref" in cache_policy, f"{where}: cache policy must be the stack's own"
        keyed = policies[cache_policy["Ref"]]["Properties"]["CachePolicyConfig"]["ParametersInCacheKeyAndForwardedToOrigin"]
        assert keyed["CookiesConfig"]["CookieBehavior"] == "none", f"{where}: cookies are in the cache key"


def check_asset_responses_are_private(t: dict) -> None:
    """Every behaviour serving the bucket has the stack's response headers policy, which makes
    viewers' copies private (Cache-Control over whatever S3 says, from AssetCacheControl, or in
    the CDK template the value it was given), and whose CORS, when there is any, names exact
    origins only: credentials are never granted to `*`."""
    policies = resources_of(t, "AWS::CloudFront::ResponseHeadersPolicy")
    for b in behaviours(t):
        if b["TargetOriginId"] != "assets":
            continue
        ref = b.get("ResponseHeadersPolicyId")
        assert ref, f"asset behaviour {b.get('PathPattern', 'default')} has no response headers policy"
        name = next((n for n in policies if refers_to(ref, n)), None)
        assert name, "the asset response headers policy is not the stack's own"
        config = policies[name]["Properties"]["ResponseHeadersPolicyConfig"]
        cache = [i for i in config.get("CustomHeadersConfig", {}).get("Items", []) if i["Header"].lower() == "cache-control"]
        assert len(cache) == 1 and cache[0]["Override"] is True, "Cache-Control is not set over the origin's"
        value = cache[0]["Value"]
        if "AssetCacheControl" in t.get("Parameters", {}):
            assert value == {"Ref": "AssetCacheControl"}, "Cache-Control does not come from AssetCacheControl"
            parameter = t["Parameters"]["AssetCacheControl"]
            assert parameter["Default"].startswith("private,"), "assets default to a cache others could share"
            assert re.fullmatch(parameter["AllowedPattern"], "public, max-age=86400") is None, "AssetCacheControl accepts public caching"
        else:
            assert isinstance(value, str) and value.startswith("private,"), f"assets are served as {value!r}"
        cors = config.get("CorsConfig")
        if isinstance(cors, dict) and "Fn::If" in cors:
            condition, cors, _ = cors["Fn::If"]
            assert condition == "HasAllowedOrigins", "CORS is not tied to AllowedOrigins"
        if cors:
            assert '"*"' not in json.dumps(cors), "CORS grants to a wildcard"
            assert cors.get("AccessControlAllowCredentials") is True, "CORS without credentials cannot carry the cookies"


def check_session_behaviour(t: dict) -> None:
    """/session* goes to the HTTP API, uncached, all methods, with every viewer header (the
    Authorization header included), cookie and query string."""
    found = [b for b in behaviours(t) if b.get("PathPattern") == "/session*"]
    assert len(found) == 1, "no /session* behaviour"
    b = found[0]
    api_name, _ = only(t, "AWS::ApiGatewayV2::Api")
    assert refers_to(origin(t, b["TargetOriginId"])["DomainName"], api_name), "/session* does not go to the HTTP API"
    assert b.get("CachePolicyId") == CACHING_DISABLED, "/session* is cached"
    assert b.get("OriginRequestPolicyId") == ALL_VIEWER_EXCEPT_HOST, "/session* does not forward what the signer needs"
    assert set(b.get("AllowedMethods", [])) == ALL_METHODS, "/session* does not allow every method"
    assert b["ViewerProtocolPolicy"] == "https-only", "/session* accepts plain HTTP"
    assert not b.get("TrustedKeyGroups"), "/session* must not require the cookies it hands out"
    api_origin = origin(t, b["TargetOriginId"])
    assert api_origin["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only", "API origin reached over HTTP"


def secret_key(t: dict) -> tuple[str | None, object]:
    """(condition, key) of the signing-key secret's customer-managed KMS key; key None: AWS-managed."""
    return when(t["Resources"]["SigningKeySecret"]["Properties"].get("KmsKeyId"))


def is_kms_statement_for(st: dict, key) -> bool:
    """A KMS statement on exactly `key`, usable only through Secrets Manager."""
    via = st.get("Condition", {}).get("StringEquals", {}).get("kms:ViaService")
    return as_list(st["Resource"]) == [key] and via is not None and "secretsmanager." in json.dumps(via)


def check_signer_permissions(t: dict) -> None:
    """The signer may read its one secret (and decrypt it with its KMS key, when it has one), write
    the deny-list's keys in the stack's own KeyValueStore, and write logs; nothing else."""
    role_name, role = role_of(t, "SignerFunction")
    managed = role["Properties"].get("ManagedPolicyArns", [])
    assert all(json.dumps(m).find("AWSLambdaBasicExecutionRole") >= 0 for m in managed), f"signer role has managed policies {managed}"
    statements = [st for name, st in iam_statements(t) if name == role_name]
    assert statements, "signer has no permission to read its secret"
    allowed = {
        ("secretsmanager:GetSecretValue",): [{"Ref": "SigningKeySecret"}],
        tuple(DENY_LIST_ACTIONS): [{"Fn::GetAtt": ["RevocationStore", "Arn"]}],
    }
    _, key = secret_key(t)
    seen = set()
    for st in statements:
        assert st["Effect"] == "Allow"
        if key is not None and as_list(st["Action"]) == ["kms:Decrypt"]:
            assert is_kms_statement_for(st, key), f"signer decrypts {st['Resource']} (or not only through Secrets Manager)"
            continue
        actions = tuple(sorted(as_list(st["Action"])))
        assert actions in allowed, f"signer may {st['Action']}"
        assert as_list(st["Resource"]) == allowed[actions], f"signer may {st['Action']} on {st['Resource']}"
        seen.add(actions)
    assert seen == set(allowed), f"signer lacks {set(allowed) - seen}"


def check_revocation_store(t: dict) -> None:
    """One KeyValueStore, associated with the edge check (whose `cf.kvs()` reads it), and named to
    the signer, which writes it."""
    store_name, _ = only(t, "AWS::CloudFront::KeyValueStore")
    _, fn = only(t, "AWS::CloudFront::Function")
    associations = fn["Properties"]["FunctionConfig"].get("KeyValueStoreAssociations", [])
    assert len(associations) == 1, f"the edge check has {len(associations)} key value stores"
    assert associations[0].get("KeyValueStoreARN") == {"Fn::GetAtt": [store_name, "Arn"]}, "the edge check reads another store"
    variables = t["Resources"]["SignerFunction"]["Properties"]["Environment"]["Variables"]
    assert variables.get("REVOCATION_KVS_ARN") == {"Fn::GetAtt": [store_name, "Arn"]}, "the signer writes no deny-list, or another one"
    assert "cf.kvs()" in embedded_edge_check(t), "the edge check does not read its store"


def check_no_wildcard_resources(t: dict) -> None:
    """No IAM statement the stack writes uses a wildcard resource, except for actions that accept
    no resource ARN at all; no statement allows a wildcard action."""
    for name, st in iam_statements(t):
        actions = as_list(st.get("Action", []))
        for action in actions:
            assert "*" not in action, f"{name}: wildcard action {action}"
        for resource in as_list(st.get("Resource", [])):
            if isinstance(resource, str) and re.fullmatch(r"\*|arn:[^:]+:[^:]*:\*?:\*?:\*", resource):
                loose = [a for a in actions if not accepts_no_resource_arn(a)]
                assert not loose, f"{name}: {loose} accept a resource ARN but get {resource!r}"


def check_key_group_membership_is_not_owned_by_cloudformation(t: dict) -> None:
    """The key group comes from the KeySetup custom resource: a CloudFormation-owned key group or
    public key would be reset by every stack update and undo key rotation."""
    for kind in ("AWS::CloudFront::KeyGroup", "AWS::CloudFront::PublicKey"):
        assert not resources_of(t, kind), f"{kind} in the template: stack updates would reset the key group"
    setup = resources_of(t, "AWS::CloudFormation::CustomResource")
    assert "KeySetup" in setup, "no KeySetup custom resource"
    assert refers_to(setup["KeySetup"]["Properties"]["ServiceToken"], "KeySetupFunction")
    assert refers_to(setup["KeySetup"]["Properties"]["SecretId"], "SigningKeySecret")


def check_functions(t: dict) -> None:
    """Both Lambdas: Rust on provided.al2023, arm64, built by cargo-lambda; the custom resource
    is never retried by Lambda; the signer gets only settings it reads."""
    for name in ("SignerFunction", "KeySetupFunction"):
        fn = t["Resources"][name]
        props = fn["Properties"]
        assert props["Runtime"] == "provided.al2023", f"{name}: runtime {props['Runtime']}"
        assert props.get("Architectures") == ["arm64"], f"{name}: architectures {props.get('Architectures')}"
        assert props["Handler"] == "bootstrap"
        assert fn.get("Metadata", {}).get("BuildMethod") == "rust-cargolambda", f"{name}: not built by cargo-lambda"
    retries = [
        r["Properties"].get("MaximumRetryAttempts")
        for r in resources_of(t, "AWS::Lambda::EventInvokeConfig").values()
        if refers_to(r["Properties"]["FunctionName"], "KeySetupFunction")
    ]
    assert retries == [0], "a Lambda retry of the key-setup function would run Create twice"
    variables = t["Resources"]["SignerFunction"]["Properties"]["Environment"]["Variables"]
    assert set(variables) <= SIGNER_VARIABLES, f"unknown signer settings {set(variables) - SIGNER_VARIABLES}"
    for required in ("ASSET_BASE_URL", "SIGNING_KEY_SECRET_ID", "SESSION_SCOPES", "SESSION_TTL_SECONDS"):
        assert required in variables, f"signer lacks {required}"


ROTATION_SECRET_ACTIONS = {
    "secretsmanager:DescribeSecret",
    "secretsmanager:GetSecretValue",
    "secretsmanager:PutSecretValue",
    "secretsmanager:UpdateSecretVersionStage",
}
ROTATION_KEY_ACTIONS = {
    "cloudfront:GetKeyGroup",
    "cloudfront:UpdateKeyGroup",
    "cloudfront:CreatePublicKey",
    "cloudfront:GetPublicKey",
    "cloudfront:UpdatePublicKey",
    "cloudfront:DeletePublicKey",
}


def check_key_rotation(t: dict) -> None:
    """Secrets Manager rotates the signing key on the KeyRotationDays schedule (0 turns it off)
    with the rotation function, which Secrets Manager of this account alone may invoke, and whose
    role may touch this secret and the key-group membership, nothing more."""
    name, schedule = only(t, "AWS::SecretsManager::RotationSchedule")
    props = schedule["Properties"]
    assert refers_to(props["SecretId"], "SigningKeySecret"), "the schedule rotates another secret"
    assert refers_to(props["RotationLambdaARN"], "KeyRotationFunction"), "the schedule runs another function"
    days = props["RotationRules"]["AutomaticallyAfterDays"]
    if parameter(t, "KeyRotationDays") is not None:
        assert days == {"Ref": "KeyRotationDays"}
        assert schedule.get("Condition") == "RotateKeys", "KeyRotationDays 0 must turn the schedule off"
        assert t["Conditions"]["RotateKeys"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "KeyRotationDays"}, 0]}]}
        assert t["Parameters"]["KeyRotationDays"]["Default"] in (30, "30")
    else:
        # The CDK template has its parameters decided: a schedule it keeps rotates every N >= 1 days.
        assert isinstance(days, int) and days >= 1, f"rotation every {days!r} days"
    assert "KeySetup" in as_list(schedule.get("DependsOn", [])), "a rotation could start before the first key exists"
    permissions = [
        r["Properties"] for r in resources_of(t, "AWS::Lambda::Permission").values()
        if refers_to(r["Properties"]["FunctionName"], "KeyRotationFunction")
    ]
    assert permissions, "Secrets Manager may not invoke the rotation function"
    for p in permissions:
        assert p["Principal"] == "secretsmanager.amazonaws.com", f"rotation invocable by {p['Principal']}"
        assert p["Action"] == "lambda:InvokeFunction"
        assert p.get("SourceAccount") == {"Ref": "AWS::AccountId"}, "any account's Secrets Manager could invoke it"
    variables = t["Resources"]["KeyRotationFunction"]["Properties"]["Environment"]["Variables"]
    assert refers_to(variables.get("KEY_GROUP_ID"), "KeySetup"), "the rotation must know the stack's key group"
    signer_ttl = t["Resources"]["SignerFunction"]["Properties"]["Environment"]["Variables"].get("SESSION_TTL_SECONDS")
    assert variables.get("SESSION_TTL_SECONDS") is not None, "pruning needs the longest session"
    assert variables.get("SESSION_TTL_SECONDS") == signer_ttl, "rotation prunes by another session lifetime than the signer's"
    role_name, _ = role_of(t, "KeyRotationFunction")
    statements = [st for n, st in iam_statements(t) if n == role_name]
    _, kms_key = secret_key(t)
    granted = set()
    for st in statements:
        assert st["Effect"] == "Allow"
        if kms_key is not None and is_kms_statement_for(st, kms_key):
            continue  # the secret's own KMS key, checked by check_kms_keys_are_optional_and_usable
        actions = set(as_list(st["Action"]))
        granted |= actions
        if actions & ROTATION_SECRET_ACTIONS:
            assert actions <= ROTATION_SECRET_ACTIONS, f"secret statement also grants {actions - ROTATION_SECRET_ACTIONS}"
            assert as_list(st["Resource"]) == [{"Ref": "SigningKeySecret"}], f"rotation reaches {st['Resource']}"
        else:
            assert actions <= ROTATION_KEY_ACTIONS, f"rotation may {sorted(actions - ROTATION_KEY_ACTIONS)}"
    assert granted == ROTATION_SECRET_ACTIONS | ROTATION_KEY_ACTIONS, f"rotation lacks {sorted((ROTATION_SECRET_ACTIONS | ROTATION_KEY_ACTIONS) - granted)}"


def check_logs_expire(t: dict) -> None:
    """Each Lambda logs to a log group of the stack's with a retention period; the implicit
    /aws/lambda/<name> group would keep every line forever."""
    groups = resources_of(t, "AWS::Logs::LogGroup")
    for name in ("SignerFunction", "KeySetupFunction"):
        target = t["Resources"][name]["Properties"].get("LoggingConfig", {}).get("LogGroup")
        assert target is not None, f"{name}: logs to the implicit, never-expiring log group"
        group = next((g for g_name, g in groups.items() if refers_to(target, g_name)), None)
        assert group is not None, f"{name}: its log group is not one of the stack's"
        assert group["Properties"].get("RetentionInDays"), f"{name}: its log group keeps logs forever"


def check_logs_are_json(t: dict) -> None:
    """Each Lambda logs in Lambda's JSON format, so it receives AWS_LAMBDA_LOG_FORMAT=JSON and
    writes the flat lines the README's Logs Insights queries read; any level set is one Lambda
    knows."""
    for name in ("SignerFunction", "KeySetupFunction"):
        config = t["Resources"][name]["Properties"].get("LoggingConfig", {})
        assert config.get("LogFormat") == "JSON", f"{name}: log format {config.get('LogFormat')!r}, not JSON"
        level = config.get("ApplicationLogLevel", "INFO")
        assert level in APPLICATION_LOG_LEVELS, f"{name}: application log level {level!r}"
        system = config.get("SystemLogLevel", "INFO")
        assert system in SYSTEM_LOG_LEVELS, f"{name}: system log level {system!r}"


def parameter(t: dict, name: str) -> dict | None:
    """A template parameter's declaration; None in the CDK template, where the props decided it."""
    return t.get("Parameters", {}).get(name)


def check_assets_are_versioned(t: dict) -> None:
    """The asset bucket keeps the previous version of an overwritten or deleted object (for
    NoncurrentVersionDays), and no lifecycle rule ever expires a current object."""
    props = t["Resources"]["AssetBucket"]["Properties"]
    assert props.get("VersioningConfiguration", {}).get("Status") == "Enabled", "the asset bucket is not versioned"
    rules = [r for r in props.get("LifecycleConfiguration", {}).get("Rules", []) if r.get("Status") == "Enabled"]
    noncurrent = [r["NoncurrentVersionExpiration"] for r in rules if "NoncurrentVersionExpiration" in r]
    assert len(noncurrent) == 1, "no single rule expires non-current versions: they would be kept (and paid for) forever"
    days = noncurrent[0].get("NoncurrentDays")
    if parameter(t, "NoncurrentVersionDays") is not None:
        assert days == {"Ref": "NoncurrentVersionDays"}, "non-current versions do not expire after NoncurrentVersionDays"
        assert parameter(t, "NoncurrentVersionDays").get("MinValue", 0) >= 1, "NoncurrentVersionDays accepts 0"
    else:
        assert isinstance(days, int) and days >= 1, f"non-current versions expire after {days!r} days"
    for r in rules:
        for current in ("ExpirationInDays", "ExpirationDate", "Transitions", "Transition"):
            assert current not in r, f"lifecycle rule {r.get('Id')} acts on current objects ({current}): users' files would go"


def check_session_api_is_capped(t: dict) -> None:
    """The HTTP API throttles every route (ThrottleRateLimit and ThrottleBurstLimit, with defaults
    far below the account's 10,000 requests/s), and the signer's reserved concurrency, when set,
    is a positive number (0 would turn the signer off)."""
    _, stage = only(t, "AWS::ApiGatewayV2::Stage")
    props = stage["Properties"]
    settings = props.get("DefaultRouteSettings", {})
    for key, name in (("ThrottlingRateLimit", "ThrottleRateLimit"), ("ThrottlingBurstLimit", "ThrottleBurstLimit")):
        value = settings.get(key)
        spec = parameter(t, name)
        if spec is not None:
            assert value == {"Ref": name}, f"stage {key} does not come from {name}"
            assert 1 <= spec["Default"] <= 1000 and spec.get("MinValue", 0) >= 1, f"{name} default {spec['Default']} caps nothing"
        else:
            assert isinstance(value, (int, float)) and value >= 1, f"stage {key} is {value!r}"
    for route in props.get("RouteSettings", {}).values() if isinstance(props.get("RouteSettings"), dict) else []:
        assert "ThrottlingRateLimit" in route, "a route setting drops the stage's throttling"
    condition, reserved = when(t["Resources"]["SignerFunction"]["Properties"].get("ReservedConcurrentExecutions"))
    if condition is not None:
        assert reserved == {"Ref": "SignerReservedConcurrency"} and condition == "HasSignerReservedConcurrency"
        assert t["Conditions"][condition] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "SignerReservedConcurrency"}, 0]}]}, \
            "reserved concurrency 0 (the default, meaning none) would reach the signer and turn it off"
    elif reserved is not None:
        assert isinstance(reserved, int) and reserved >= 1, f"signer reserved concurrency {reserved!r}"


def log_group_of(t: dict, arn) -> dict:
    groups = resources_of(t, "AWS::Logs::LogGroup")
    found = [g for name, g in groups.items() if refers_to(arn, name)]
    assert len(found) == 1, f"{arn} is not one of the stack's log groups"
    return found[0]


# What the access log may hold: request facts, never a header, cookie, body or query string.
ACCESS_LOG_FIELDS_REQUIRED = {"$context.requestId", "$context.status", "$context.routeKey", "$context.integrationErrorMessage"}
ACCESS_LOG_FORBIDDEN = re.compile(r"header|cookie|querystring|\$request|authorizer|body", re.I)


def check_api_access_logs(t: dict) -> None:
    """The HTTP API writes one JSON line per request into a log group of the stack's with a
    retention period; the line names the request, its status and any integration error, and never
    a header, cookie or query string (where a token could be)."""
    _, stage = only(t, "AWS::ApiGatewayV2::Stage")
    settings = stage["Properties"].get("AccessLogSettings")
    assert settings, "the HTTP API stage writes no access log"
    group = log_group_of(t, settings["DestinationArn"])
    assert group["Properties"].get("RetentionInDays"), "the access log group keeps logs forever"
    fmt = settings["Format"]
    assert isinstance(fmt, str), f"access log format {fmt!r}"
    try:
        fields = json.loads(fmt)
    except json.JSONDecodeError:
        raise AssertionError(f"the access log format is not JSON: {fmt[:80]}")
    values = set(fields.values())
    missing = ACCESS_LOG_FIELDS_REQUIRED - values
    assert not missing, f"the access log lacks {sorted(missing)}"
    leaks = [v for v in values if ACCESS_LOG_FORBIDDEN.search(v)]
    assert not leaks, f"the access log writes {leaks}"


def check_cloudfront_logging_and_waf(t: dict) -> None:
    """CloudFront standard logging, where on, never logs cookies (the signed session, the `token`
    JWT) and writes to a bucket ACLs can reach (CloudFront's log delivery needs them); a bucket the
    stack creates for it is private, encrypted, TLS-only and expires its files. A web ACL, where
    set, is WebAclArn, which accepts only CloudFront-scope (us-east-1) web ACLs."""
    config = distribution_config(t)
    condition, logging = when(config.get("Logging"))
    if logging is not None:
        assert condition in (None, "HasCloudFrontLogs"), f"logging under condition {condition}"
        assert logging.get("IncludeCookies") is False, "CloudFront logs would carry the session cookies"
        bucket = logging["Bucket"]
        created = "CloudFrontLogs" in t["Resources"]
        if created:
            assert refers_to(logging["Bucket"], "CloudFrontLogs"), "logging does not go to the stack's log bucket"
            props = t["Resources"]["CloudFrontLogs"]["Properties"]
            ownership = props.get("OwnershipControls", {}).get("Rules", [{}])[0].get("ObjectOwnership")
            assert ownership in ("BucketOwnerPreferred", "ObjectWriter"), f"log bucket ownership {ownership}: CloudFront cannot write with ACLs off"
            block = props.get("PublicAccessBlockConfiguration", {})
            for flag in ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"):
                assert block.get(flag) is True, f"log bucket public-access block {flag} is not on"
            assert props.get("BucketEncryption"), "log bucket has no default encryption"
            expiring = [r for r in props.get("LifecycleConfiguration", {}).get("Rules", []) if r.get("Status") == "Enabled" and r.get("ExpirationInDays")]
            assert expiring, "the log bucket keeps log files forever"
            policies = [p for p in resources_of(t, "AWS::S3::BucketPolicy").values() if refers_to(p["Properties"]["Bucket"], "CloudFrontLogs")]
            assert any(
                s["Effect"] == "Deny" and s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") in ("false", False)
                for p in policies for s in as_list(p["Properties"]["PolicyDocument"]["Statement"])
            ), "the log bucket accepts plain HTTP"
        else:
            assert ".s3." in json.dumps(bucket), f"log bucket {bucket!r} is not an S3 bucket domain"
    condition, acl = when(config.get("WebACLId"))
    spec = parameter(t, "WebAclArn")
    if spec is not None:
        assert acl == {"Ref": "WebAclArn"} and condition == "HasWebAcl", "the distribution's web ACL is not WebAclArn"
        pattern = spec["AllowedPattern"]
        assert re.fullmatch(pattern, "") and re.fullmatch(pattern, "arn:aws:wafv2:us-east-1:111122223333:global/webacl/keyhole/a1b2c3d4-5678-90ab-cdef-0123456789ab")
        assert not re.fullmatch(pattern, "arn:aws:wafv2:eu-west-1:111122223333:regional/webacl/keyhole/a1b2c3d4"), "WebAclArn accepts a regional web ACL"
    elif acl is not None:
        assert isinstance(acl, str) and ":us-east-1:" in acl and ":global/webacl/" in acl, f"web ACL {acl!r} is not a CloudFront-scope ACL"


def check_kms_keys_are_optional_and_usable(t: dict) -> None:
    """The signing-key secret and every log group use a customer-managed KMS key only when one is
    given (SecretKmsKeyArn, LogsKmsKeyArn; by default AWS-managed); with a secret key, key setup
    and rotation may encrypt with it and the signer decrypt with it, all only through Secrets
    Manager."""
    condition, key = secret_key(t)
    if parameter(t, "SecretKmsKeyArn") is not None:
        assert parameter(t, "SecretKmsKeyArn")["Default"] == "", "the secret's KMS key is not optional"
        assert (condition, key) == ("HasSecretKmsKey", {"Ref": "SecretKmsKeyArn"}), "the secret's key is not SecretKmsKeyArn"
    if parameter(t, "LogsKmsKeyArn") is not None:
        assert parameter(t, "LogsKmsKeyArn")["Default"] == "", "the log groups' KMS key is not optional"
        for name, group in resources_of(t, "AWS::Logs::LogGroup").items():
            assert when(group["Properties"].get("KmsKeyId")) == ("HasLogsKmsKey", {"Ref": "LogsKmsKeyArn"}), f"{name} ignores LogsKmsKeyArn"
    if key is None:
        return
    writers = ["KeySetupFunction"] + (["KeyRotationFunction"] if "KeyRotationFunction" in t["Resources"] else [])
    needs = [(w, {"kms:GenerateDataKey", "kms:Decrypt"}) for w in writers] + [("SignerFunction", {"kms:Decrypt"})]
    for function, needed in needs:
        role_name, _ = role_of(t, function)
        granted = set()
        for name, st in iam_statements(t):
            if name == role_name and st["Effect"] == "Allow" and is_kms_statement_for(st, key):
                granted |= set(as_list(st["Action"]))
        assert needed <= granted, f"{function} lacks {sorted(needed - granted)} on the secret's KMS key"
    role_name, role = role_of(t, "KeySetupFunction")
    for st in as_list(role["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]):
        c, inner = when(st)
        if inner.get("Action") and any(a.startswith("kms:") for a in as_list(inner["Action"])):
            assert c == condition, f"key setup's KMS grant is under {c}, the secret's key under {condition}"


def check_outputs(t: dict) -> None:
    missing = REQUIRED_OUTPUTS - set(t.get("Outputs", {}))
    assert not missing, f"missing outputs {sorted(missing)}"


def embedded_edge_check(t: dict, sign_in_url: str = "") -> str:
    """The CloudFront Function code the stack deploys, with SignInUrl set to `sign_in_url`."""
    _, fn = only(t, "AWS::CloudFront::Function")
    code = fn["Properties"]["FunctionCode"]
    assert isinstance(code, dict) and "Fn::Sub" in code, "edge-check code is not an Fn::Sub"
    body = code["Fn::Sub"]
    assert isinstance(body, str)
    names = set(re.findall(r"\$\{(?!!)([^}]*)\}", body))
    assert names <= {"SignInUrl"}, f"unexpected substitutions {names}"
    return body.replace("${SignInUrl}", sign_in_url).replace("${!", "${")


# The one line deployment rewrites. SAM leaves ${SignInUrl} there for CloudFormation to fill in
# (embedded_edge_check puts "" in); the CDK construct writes the URL in at synth.
SIGN_IN_URL_LINE = re.compile(r"^(const SIGN_IN_URL = ')(https://[^'\"\\\s]+)?(';)$", re.M)


def check_edge_check_matches_source(t: dict) -> None:
    """The deployed code is functions/edge-check/index.js, byte for byte apart from the sign-in URL."""
    embedded, lines = SIGN_IN_URL_LINE.subn(r"\1\3", embedded_edge_check(t))
    assert lines == 1, "the edge check has no single SIGN_IN_URL line"
    source = EDGE_CHECK.read_text()
    assert embedded.rstrip("\n") == source.rstrip("\n"), "edge-check code in the template drifted from functions/edge-check/index.js"
    assert len(source.encode()) <= 10 * 1024, "edge check is over CloudFront's 10 KB limit"


CHECKS = [
    check_bucket_is_private,
    check_asset_behaviours_are_locked,
    check_asset_responses_are_private,
    check_session_behaviour,
    check_signer_permissions,
    check_revocation_store,
    check_no_wildcard_resources,
    check_key_group_membership_is_not_owned_by_cloudformation,
    check_functions,
    check_key_rotation,
    check_logs_expire,
    check_logs_are_json,
    check_assets_are_versioned,
    check_session_api_is_capped,
    check_api_access_logs,
    check_cloudfront_logging_and_waf,
    check_kms_keys_are_optional_and_usable,
    check_outputs,
    check_edge_check_matches_source,
]


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_the_template_passes(check, cfn):
    check(cfn)


def test_the_sign_in_url_reaches_the_edge_check_line(sam_cfn):
    code = embedded_edge_check(sam_cfn, "https://login.example.com/")
    assert "const SIGN_IN_URL = 'https://login.example.com/';" in code.splitlines()


def test_the_sign_in_url_parameter_cannot_break_out_of_the_string(source):
    pattern = source["Parameters"]["SignInUrl"]["AllowedPattern"]
    assert re.fullmatch(pattern, "")
    assert re.fullmatch(pattern, "https://auth.example.com/login?client_id=abc")
    for bad in ["https://x/';alert(1);//", 'https://x/"', "https://x/\\", "https://x y", "javascript:alert(1)"]:
        assert not re.fullmatch(pattern, bad), bad


def test_regenerating_the_edge_check_changes_nothing():
    run = subprocess.run([str(ROOT / "infra" / "gen-edge-check"), "--check"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr


def test_every_wildcard_resource_in_the_template_carries_a_comment_saying_why():
    lines = TEMPLATE.read_text().splitlines()
    wildcard = [i for i, line in enumerate(lines) if re.match(r'\s*Resource:\s*["\']\*["\']', line)]
    assert wildcard, "expected the key-setup wildcard (CloudFront key APIs accept no ARN)"
    for i in wildcard:
        assert statement_comment(lines, i), f"line {i + 1}: Resource '*' without a comment saying why"


def statement_comment(lines: list[str], i: int) -> str:
    """The comment lines right above the IAM statement that contains line `i`."""
    j = i
    while j > 0 and not re.match(r"\s*- (Sid|Effect):", lines[j]):
        j -= 1
    comment = []
    j -= 1
    while j >= 0 and lines[j].strip().startswith("#"):
        comment.append(lines[j])
        j -= 1
    return "\n".join(comment)


# --- planted violations: each check must catch what it is about ----------------------------------


def _dist(t):
    return distribution_config(t)


def _session(t):
    return next(b for b in _dist(t)["CacheBehaviors"] if b["PathPattern"] == "/session*")


def _headers_policy(t):
    return only(t, "AWS::CloudFront::ResponseHeadersPolicy")[1]["Properties"]["ResponseHeadersPolicyConfig"]


def _deny_list_statement(t: dict) -> dict:
    """The signer's statement that writes the deny-list (by its Sid: the list also holds the
    conditional KMS statement)."""
    return next(st for st in _role_statements(t, "SignerFunctionRole")
                if isinstance(st, dict) and st.get("Sid") == "WriteTheDenyList")


def _role_statements(t, role):
    return t["Resources"][role]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]


def _props(t, name):
    return t["Resources"][name]["Properties"]


def _stage(t):
    return only(t, "AWS::ApiGatewayV2::Stage")[1]["Properties"]


def _access_format(t, change):
    fields = json.loads(_stage(t)["AccessLogSettings"]["Format"])
    change(fields)
    _stage(t)["AccessLogSettings"]["Format"] = json.dumps(fields)


def _uncapped(t):
    """A throttle that caps nothing: the parameter's default in the SAM template, the value in the CDK one."""
    if parameter(t, "ThrottleRateLimit") is not None:
        t["Parameters"]["ThrottleRateLimit"]["Default"] = 10000
    else:
        _stage(t)["DefaultRouteSettings"]["ThrottlingRateLimit"] = 0


def _regional_web_acl(t):
    if parameter(t, "WebAclArn") is not None:
        t["Parameters"]["WebAclArn"]["AllowedPattern"] = "^(arn:aws:wafv2:[a-z0-9-]+:[0-9]{12}:[a-z]+/webacl/.+)?$"
    else:
        _dist(t)["WebACLId"] = "arn:aws:wafv2:eu-west-1:111122223333:regional/webacl/keyhole/a1b2c3d4"


def _secret_key_without_grants(t):
    _props(t, "SigningKeySecret")["KmsKeyId"] = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    t.get("Parameters", {}).pop("SecretKmsKeyArn", None)


def _key_setup_kms_grant_dropped(t):
    statements = _role_statements(t, "KeySetupFunctionRole")
    statements[:] = [st for st in statements if "kms:" not in json.dumps(st)]


def _allow(t):
    return t["Resources"]["AssetBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"][0]


PLANTED = {
    "public access block off": (check_bucket_is_private,
        lambda t: t["Resources"]["AssetBucket"]["Properties"]["PublicAccessBlockConfiguration"].update(RestrictPublicBuckets=False)),
    "no default encryption": (check_bucket_is_private,
        lambda t: t["Resources"]["AssetBucket"]["Properties"].pop("BucketEncryption")),
    "bucket readable by anyone": (check_bucket_is_private, lambda t: _allow(t).update(Principal="*")),
    "bucket policy without SourceArn": (check_bucket_is_private, lambda t: _allow(t).pop("Condition")),
    "SourceArn of another distribution": (check_bucket_is_private,
        lambda t: _allow(t)["Condition"]["StringEquals"].update({"AWS:SourceArn": "arn:aws:cloudfront::111122223333:distribution/EOTHER"})),
    "bucket policy allows writes": (check_bucket_is_private, lambda t: _allow(t).update(Action=["s3:GetObject", "s3:PutObject"])),
    "second allow statement": (check_bucket_is_private,
        lambda t: t["Resources"]["AssetBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"].append(
            {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"})),
    "no TLS-only deny": (check_bucket_is_private,
        lambda t: t["Resources"]["AssetBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"].pop(1)),
    "origin without OAC": (check_bucket_is_private, lambda t: _dist(t)["Origins"][0].pop("OriginAccessControlId")),
    "default behaviour without key group": (check_asset_behaviours_are_locked,
        lambda t: _dist(t)["DefaultCacheBehavior"].pop("TrustedKeyGroups")),
    "key group not the stack's": (check_asset_behaviours_are_locked,
        lambda t: _dist(t)["DefaultCacheBehavior"].update(TrustedKeyGroups=["a1b2c3d4-0000-0000-0000-000000000000"])),
    "no edge check": (check_asset_behaviours_are_locked,
        lambda t: _dist(t)["DefaultCacheBehavior"].pop("FunctionAssociations")),
    "edge check on viewer response": (check_asset_behaviours_are_locked,
        lambda t: _dist(t)["DefaultCacheBehavior"]["FunctionAssociations"][0].update(EventType="viewer-response")),
    "plain HTTP assets": (check_asset_behaviours_are_locked,
        lambda t: _dist(t)["DefaultCacheBehavior"].update(ViewerProtocolPolicy="allow-all")),
    "cookies in the cache key": (check_asset_behaviours_are_locked,
        lambda t: t["Resources"]["AssetCachePolicy"]["Properties"]["CachePolicyConfig"]["ParametersInCacheKeyAndForwardedToOrigin"]["CookiesConfig"].update(CookieBehavior="all")),
    "extra unlocked asset behaviour": (check_asset_behaviours_are_locked,
        lambda t: _dist(t)["CacheBehaviors"].append(
            {"PathPattern": "/public/*", "TargetOriginId": "assets", "ViewerProtocolPolicy": "https-only", "CachePolicyId": {"Ref": "AssetCachePolicy"}})),
    "asset behaviour without response headers policy": (check_asset_responses_are_private,
        lambda t: _dist(t)["DefaultCacheBehavior"].pop("ResponseHeadersPolicyId")),
    "Cache-Control left to the origin": (check_asset_responses_are_private,
        lambda t: _headers_policy(t)["CustomHeadersConfig"]["Items"][0].update(Override=False)),
    "public caching": (check_asset_responses_are_private,
        lambda t: _headers_policy(t)["CustomHeadersConfig"]["Items"][0].update(Value="public, max-age=86400")),
    "CORS for any origin": (check_asset_responses_are_private,
        lambda t: _headers_policy(t).update(CorsConfig={"AccessControlAllowCredentials": True, "AccessControlAllowOrigins": {"Items": ["*"]},
            "AccessControlAllowHeaders": {"Items": ["Range"]}, "AccessControlAllowMethods": {"Items": ["GET"]}, "OriginOverride": True})),
    "/session* cached": (check_session_behaviour, lambda t: _session(t).update(CachePolicyId="658327ea-f89d-4fab-a63d-7e88639e58f6")),
    "/session* to the bucket": (check_session_behaviour, lambda t: _session(t).update(TargetOriginId="assets")),
    "/session* without the headers": (check_session_behaviour, lambda t: _session(t).pop("OriginRequestPolicyId")),
    "/session* GET only": (check_session_behaviour, lambda t: _session(t).update(AllowedMethods=["GET", "HEAD"])),
    "/session* missing": (check_session_behaviour,
        lambda t: _dist(t).update(CacheBehaviors=[b for b in _dist(t)["CacheBehaviors"] if b["PathPattern"] != "/session*"])),
    "signer reads every secret": (check_signer_permissions, lambda t: _role_statements(t, "SignerFunctionRole")[0].update(Resource="*")),
    "signer may list secrets too": (check_signer_permissions,
        lambda t: _role_statements(t, "SignerFunctionRole")[0].update(Action=["secretsmanager:GetSecretValue", "secretsmanager:ListSecrets"])),
    "signer may read the bucket": (check_signer_permissions,
        lambda t: _role_statements(t, "SignerFunctionRole").append({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"})),
    "signer with an admin policy": (check_signer_permissions,
        lambda t: t["Resources"]["SignerFunctionRole"]["Properties"]["ManagedPolicyArns"].append("arn:aws:iam::aws:policy/AdministratorAccess")),
    "signer writes every key value store": (check_signer_permissions,
        lambda t: _deny_list_statement(t).update(Resource="*")),
    "signer may delete the key value store": (check_signer_permissions,
        lambda t: _deny_list_statement(t)["Action"].append("cloudfront:DeleteKeyValueStore")),
    "signer may write keys in another store": (check_signer_permissions,
        lambda t: _deny_list_statement(t).update(
            Resource="arn:aws:cloudfront::111122223333:key-value-store/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b")),
    "signer may not write the deny-list": (check_signer_permissions,
        lambda t: _role_statements(t, "SignerFunctionRole").remove(_deny_list_statement(t))),
    "edge check without its store": (check_revocation_store,
        lambda t: t["Resources"]["EdgeCheckFunction"]["Properties"]["FunctionConfig"].pop("KeyValueStoreAssociations")),
    "edge check reads another store": (check_revocation_store,
        lambda t: t["Resources"]["EdgeCheckFunction"]["Properties"]["FunctionConfig"].update(KeyValueStoreAssociations=[
            {"KeyValueStoreARN": "arn:aws:cloudfront::111122223333:key-value-store/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"}])),
    "no key value store": (check_revocation_store, lambda t: t["Resources"].pop("RevocationStore")),
    "signer not told the store": (check_revocation_store,
        lambda t: t["Resources"]["SignerFunction"]["Properties"]["Environment"]["Variables"].pop("REVOCATION_KVS_ARN")),
    "wildcard on an action that takes an ARN": (check_no_wildcard_resources,
        lambda t: _role_statements(t, "KeySetupFunctionRole")[1].update(Resource="*")),
    "ARN-shaped wildcard": (check_no_wildcard_resources,
        lambda t: _role_statements(t, "KeySetupFunctionRole")[1].update(Resource="arn:aws:secretsmanager:*:*:*")),
    "wildcard action": (check_no_wildcard_resources,
        lambda t: _role_statements(t, "KeySetupFunctionRole")[0]["Action"].append("cloudfront:*")),
    "UpdateDistribution under the key-API wildcard": (check_no_wildcard_resources,
        lambda t: _role_statements(t, "KeySetupFunctionRole")[0]["Action"].append("cloudfront:UpdateDistribution")),
    "CloudFormation-owned key group": (check_key_group_membership_is_not_owned_by_cloudformation,
        lambda t: t["Resources"].update(KeyGroup={"Type": "AWS::CloudFront::KeyGroup", "Properties": {"KeyGroupConfig": {"Name": "k", "Items": ["K1"]}}})),
    "x86_64 signer": (check_functions, lambda t: t["Resources"]["SignerFunction"]["Properties"].update(Architectures=["x86_64"])),
    "signer setting nobody reads": (check_functions,
        lambda t: t["Resources"]["SignerFunction"]["Properties"]["Environment"]["Variables"].update(SIGNING_KEY="inline")),
    "key setup retried by Lambda": (check_functions,
        lambda t: t["Resources"]["KeySetupFunctionEventInvokeConfig"]["Properties"].update(MaximumRetryAttempts=2)),
    "rotation schedule that 0 cannot turn off": (check_key_rotation,
        lambda t: t["Resources"]["KeyRotationSchedule"].pop("Condition")),
    "rotation on a fixed period": (check_key_rotation,
        lambda t: t["Resources"]["KeyRotationSchedule"]["Properties"]["RotationRules"].update(AutomaticallyAfterDays=30)),
    "rotation before the first key": (check_key_rotation,
        lambda t: t["Resources"]["KeyRotationSchedule"].update(DependsOn=["KeyRotationPermission"])),
    "rotation invocable from any account": (check_key_rotation,
        lambda t: t["Resources"]["KeyRotationPermission"]["Properties"].pop("SourceAccount")),
    "rotation invocable by anyone": (check_key_rotation,
        lambda t: t["Resources"]["KeyRotationPermission"]["Properties"].update(Principal="*")),
    "rotation reads every secret": (check_key_rotation,
        lambda t: _role_statements(t, "KeyRotationFunctionRole")[0].update(Resource="*")),
    "rotation may delete the key group": (check_key_rotation,
        lambda t: _role_statements(t, "KeyRotationFunctionRole")[1]["Action"].append("cloudfront:DeleteKeyGroup")),
    "rotation prunes by a shorter session than the signer's": (check_key_rotation,
        lambda t: t["Resources"]["KeyRotationFunction"]["Properties"]["Environment"]["Variables"].update(SESSION_TTL_SECONDS="60")),
    "rotation without its key group": (check_key_rotation,
        lambda t: t["Resources"]["KeyRotationFunction"]["Properties"]["Environment"]["Variables"].pop("KEY_GROUP_ID")),
    "signer logs kept forever": (check_logs_expire,
        lambda t: t["Resources"]["SignerLogGroup"]["Properties"].pop("RetentionInDays")),
    "key setup on the implicit log group": (check_logs_expire,
        lambda t: t["Resources"]["KeySetupFunction"]["Properties"].pop("LoggingConfig")),
    "signer logs in text": (check_logs_are_json,
        lambda t: t["Resources"]["SignerFunction"]["Properties"]["LoggingConfig"].update(LogFormat="Text")),
    "key setup without a log format": (check_logs_are_json,
        lambda t: t["Resources"]["KeySetupFunction"]["Properties"]["LoggingConfig"].pop("LogFormat")),
    "an application log level Lambda does not know": (check_logs_are_json,
        lambda t: t["Resources"]["SignerFunction"]["Properties"]["LoggingConfig"].update(ApplicationLogLevel="VERBOSE")),
    "missing output": (check_outputs, lambda t: t["Outputs"].pop("KeyGroupId")),
    "assets not versioned": (check_assets_are_versioned,
        lambda t: _props(t, "AssetBucket")["VersioningConfiguration"].update(Status="Suspended")),
    "non-current versions kept forever": (check_assets_are_versioned,
        lambda t: _props(t, "AssetBucket")["LifecycleConfiguration"].update(
            Rules=[r for r in _props(t, "AssetBucket")["LifecycleConfiguration"]["Rules"] if "NoncurrentVersionExpiration" not in r])),
    "lifecycle rule expiring current objects": (check_assets_are_versioned,
        lambda t: _props(t, "AssetBucket")["LifecycleConfiguration"]["Rules"].append({"Id": "tidy", "Status": "Enabled", "ExpirationInDays": 365})),
    "API without throttling": (check_session_api_is_capped, lambda t: _stage(t).pop("DefaultRouteSettings")),
    "throttle that caps nothing": (check_session_api_is_capped, _uncapped),
    "reserved concurrency 0 reaching the signer": (check_session_api_is_capped,
        lambda t: _props(t, "SignerFunction").update(ReservedConcurrentExecutions=0)),
    "no API access log": (check_api_access_logs, lambda t: _stage(t).pop("AccessLogSettings")),
    "API access log kept forever": (check_api_access_logs, lambda t: _props(t, "SessionApiLogGroup").pop("RetentionInDays")),
    "API access log in text": (check_api_access_logs,
        lambda t: _stage(t)["AccessLogSettings"].update(Format="$context.identity.sourceIp [$context.requestTime] $context.routeKey $context.status")),
    "API access log without the integration error": (check_api_access_logs,
        lambda t: _access_format(t, lambda f: f.pop("integrationError"))),
    "API access log writing the Authorization header": (check_api_access_logs,
        lambda t: _access_format(t, lambda f: f.update(authorization="$request.header.Authorization"))),
    "CloudFront logs with cookies": (check_cloudfront_logging_and_waf,
        lambda t: _dist(t).update(Logging={"Bucket": {"Fn::GetAtt": ["CloudFrontLogs", "DomainName"]}, "IncludeCookies": True})),
    "CloudFront log bucket with ACLs off": (check_cloudfront_logging_and_waf,
        lambda t: _props(t, "CloudFrontLogs")["OwnershipControls"]["Rules"][0].update(ObjectOwnership="BucketOwnerEnforced")),
    "CloudFront log files kept forever": (check_cloudfront_logging_and_waf, lambda t: _props(t, "CloudFrontLogs").pop("LifecycleConfiguration")),
    "CloudFront log bucket over plain HTTP": (check_cloudfront_logging_and_waf,
        lambda t: t["Resources"].pop("CloudFrontLogsPolicy")),
    "a regional web ACL": (check_cloudfront_logging_and_waf, _regional_web_acl),
    "secret encrypted with a key nobody may use": (check_kms_keys_are_optional_and_usable, _secret_key_without_grants),
    "key setup cannot encrypt with the secret's key": (check_kms_keys_are_optional_and_usable, _key_setup_kms_grant_dropped),
    "a log group ignoring LogsKmsKeyArn": (check_kms_keys_are_optional_and_usable,
        lambda t: _props(t, "SessionApiLogGroup").pop("KmsKeyId")),
    "the secret's key no longer optional": (check_kms_keys_are_optional_and_usable,
        lambda t: t["Parameters"]["SecretKmsKeyArn"].update(Default="arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab")),
    "edge check edited in the template": (check_edge_check_matches_source,
        lambda t: t["Resources"]["EdgeCheckFunction"]["Properties"].update(
            FunctionCode={"Fn::Sub": embedded_edge_check(t).replace("statusCode: 401", "statusCode: 200")})),
}


# Violations of how a parameter is wired, which only the SAM template (with its parameters) can show;
# or, for the key setup's grant, which the CDK example (no customer-managed key) does not create.
SAM_ONLY = {"rotation schedule that 0 cannot turn off", "rotation on a fixed period", "a log group ignoring LogsKmsKeyArn", "the secret's key no longer optional", "key setup cannot encrypt with the secret's key"}


@pytest.mark.parametrize("name", sorted(PLANTED))
def test_a_planted_violation_is_caught(name, cfn):
    check, plant = PLANTED[name]
    if name in SAM_ONLY and parameter(cfn, "SecretKmsKeyArn") is None:
        pytest.skip("about a parameter's wiring; the CDK template has its parameters decided")
    broken = copy.deepcopy(cfn)
    plant(broken)
    with pytest.raises(AssertionError):
        check(broken)


def test_every_check_has_a_planted_violation():
    planted = {check for check, _ in PLANTED.values()}
    assert planted == set(CHECKS), f"checks never shown to fail: {[c.__name__ for c in set(CHECKS) - planted]}"


def test_a_wildcard_without_its_comment_is_caught():
    lines = TEMPLATE.read_text().splitlines()
    i = next(i for i, line in enumerate(lines) if re.match(r'\s*Resource:\s*"\*"', line))
    stripped = [line for line in lines if not line.strip().startswith("#")]
    j = stripped.index(lines[i])
    assert not statement_comment(stripped, j)
