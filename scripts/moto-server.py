"""The tests' moto server, with the CloudFront key-group calls moto lacks.

Usage: moto-server.py HOST PORT (scripts/moto.sh runs it).

moto 5.2 implements CreatePublicKey, GetPublicKey, DeletePublicKey, ListPublicKeys,
CreateKeyGroup, GetKeyGroup and ListKeyGroups, but not the calls a key rotation makes to change a
group or a key. This stand-in adds them to moto's own CloudFront backend, so the state is one
(a key created through moto is the key the new calls update), and the answers are serialized by
moto from the CloudFront API model, so they are CloudFront's XML:

Implemented here:
- UpdateKeyGroup (PUT /2020-05-31/key-group/{Id}), DeleteKeyGroup (DELETE .../key-group/{Id}),
  GetKeyGroupConfig (GET .../key-group/{Id}/config);
- UpdatePublicKey (PUT /2020-05-31/public-key/{Id}/config), GetPublicKeyConfig (GET the same);
- CloudFront's version semantics on every write to a key group or a public key: each write gets a
  new ETag; If-Match is required (InvalidIfMatchVersion, 400, when absent) and must be the current
  ETag (PreconditionFailed, 412, when stale). moto's own DeletePublicKey ignores If-Match; here it
  is checked too;
- the errors a rotation must tell apart: NoSuchResource (404) for an unknown key group,
  NoSuchPublicKey (404) for an unknown public key (moto answers 500), TooManyPublicKeysInKeyGroup
  (400) for a sixth key, PublicKeyInUse (409) when deleting a key a group still lists,
  CannotChangeImmutablePublicKeyFields (400) when UpdatePublicKey changes anything but the comment;
- the comment given to CreatePublicKey and CreateKeyGroup (moto drops it).

Not implemented: distributions referencing a key group (DeleteKeyGroup never answers
ResourceInUse), CallerReference idempotency, name uniqueness, EncodedKey validation, pagination,
the account's quotas other than five keys per group. Everything else is plain moto.
"""

import sys

from moto.cloudfront import urls
from moto.cloudfront.exceptions import CloudFrontException
from moto.cloudfront.models import KeyGroup
from moto.cloudfront.responses import CloudFrontResponse
from moto.core.responses import ActionResult, EmptyResult
from moto.moto_api._internal import mock_random

MAX_KEYS_PER_GROUP = 5


class Refused(CloudFrontException):
    """A CloudFront error; moto takes the HTTP status from the API model's error shape."""

    def __init__(self, code, message):
        super().__init__(code, message)


def new_etag():
    return "E" + mock_random.get_random_string(length=13, include_digits=True).upper()


def check_if_match(resource, if_match):
    if not if_match:
        raise Refused("InvalidIfMatchVersion", "The If-Match version is missing or not valid for the resource.")
    if if_match != resource.etag:
        raise Refused("PreconditionFailed", "The precondition given in one or more of the request-header fields evaluated to false.")


def key_group(backend, group_id):
    group = backend.key_groups.get(group_id)
    if group is None:
        raise Refused("NoSuchResource", "The specified key group does not exist.")
    return group


def public_key(backend, key_id):
    key = backend.public_keys.get(key_id)
    if key is None:
        raise Refused("NoSuchPublicKey", "The specified public key does not exist.")
    return key


def check_items(backend, items):
    if len(items) > MAX_KEYS_PER_GROUP:
        raise Refused("TooManyPublicKeysInKeyGroup", f"A key group can hold at most {MAX_KEYS_PER_GROUP} public keys.")
    for item in items:
        public_key(backend, item)


def key_group_config(group):
    config = {"Name": group.name, "Items": group.items}
    if getattr(group, "comment", ""):
        config["Comment"] = group.comment
    return config


# moto's models, with the comment they drop and a config that carries it.
KeyGroup.key_group_config = property(key_group_config)


def create_public_key(self):
    config = self._get_param("PublicKeyConfig")
    key = self.backend.create_public_key(
        caller_ref=config["CallerReference"], name=config["Name"], encoded_key=config["EncodedKey"]
    )
    key.comment = config.get("Comment", "")
    return ActionResult({"PublicKey": key, "Location": key.location, "ETag": key.etag})


def get_public_key(self):
    key = public_key(self.backend, self._get_param("Id"))
    return ActionResult({"PublicKey": key, "ETag": key.etag})


def get_public_key_config(self):
    key = public_key(self.backend, self._get_param("Id"))
    return ActionResult({"PublicKeyConfig": key.public_key_config, "ETag": key.etag})


def update_public_key(self):
    key = public_key(self.backend, self._get_param("Id"))
    check_if_match(key, self._get_param("IfMatch"))
    config = self._get_param("PublicKeyConfig")
    immutable = (
        config.get("Name") != key.name
        or config.get("CallerReference") != key.caller_ref
        or config.get("EncodedKey", "").strip() != key.encoded_key.strip()
    )
    if immutable:
        raise Refused("CannotChangeImmutablePublicKeyFields", "You can't change the value of a public key.")
    key.comment = config.get("Comment", "")
    key.etag = new_etag()
    return ActionResult({"PublicKey": key, "ETag": key.etag})


def delete_public_key(self):
    key_id = self._get_param("Id")
    key = public_key(self.backend, key_id)
    check_if_match(key, self._get_param("IfMatch"))
    if any(key_id in g.items for g in self.backend.key_groups.values()):
        raise Refused("PublicKeyInUse", "The specified public key is in use.")
    del self.backend.public_keys[key_id]
    return EmptyResult()


def create_key_group(self):
    config = self._get_param("KeyGroupConfig")
    items = list(config.get("Items") or [])
    check_items(self.backend, items)
    group = self.backend.create_key_group(name=config["Name"], items=items)
    group.comment = config.get("Comment", "")
    return ActionResult({"KeyGroup": group, "Location": group.location, "ETag": group.etag})


def get_key_group(self):
    group = key_group(self.backend, self._get_param("Id"))
    return ActionResult({"KeyGroup": group, "ETag": group.etag})


def get_key_group_config(self):
    group = key_group(self.backend, self._get_param("Id"))
    return ActionResult({"KeyGroupConfig": group.key_group_config, "ETag": group.etag})


def update_key_group(self):
    group = key_group(self.backend, self._get_param("Id"))
    check_if_match(group, self._get_param("IfMatch"))
    config = self._get_param("KeyGroupConfig")
    items = list(config.get("Items") or [])
    check_items(self.backend, items)
    group.name = config["Name"]
    group.items = items
    group.comment = config.get("Comment", "")
    group.etag = new_etag()
    return ActionResult({"KeyGroup": group, "ETag": group.etag})


def delete_key_group(self):
    group_id = self._get_param("Id")
    group = key_group(self.backend, group_id)
    check_if_match(group, self._get_param("IfMatch"))
    del self.backend.key_groups[group_id]
    return EmptyResult()


for handler in (
    create_public_key,
    get_public_key,
    get_public_key_config,
    update_public_key,
    delete_public_key,
    create_key_group,
    get_key_group,
    get_key_group_config,
    update_key_group,
    delete_key_group,
):
    setattr(CloudFrontResponse, handler.__name__, handler)

urls.url_paths["{0}/2020-05-31/key-group/(?P<key_name>[^/]+)/config$"] = CloudFrontResponse.dispatch
urls.url_paths["{0}/2020-05-31/public-key/(?P<key_name>[^/]+)/config$"] = CloudFrontResponse.dispatch

if __name__ == "__main__":
    from moto.server import main

    host, port = sys.argv[1], sys.argv[2]
    main(["-H", host, "-p", port])
