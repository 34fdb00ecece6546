// Keyhole edge check: a CloudFront Function (runtime cloudfront-js-2.0) on viewer request for the
// asset behaviour. CloudFront's trusted key group does the cryptographic check of the signed
// cookies; this function only denies more or answers better (a clear 401, a sign-in redirect, the
// bridge for the classic `token` cookie, revoked sessions). It never grants: every request it lets
// through still has to pass CloudFront's own check, so it is safe whichever order CloudFront runs
// the two in. No network, no clock other than Date.now(); the one store it reads is the deny-list
// (the KeyValueStore associated with the function). `keyhole serve` runs this very file.
import cf from 'cloudfront';
import crypto from 'crypto';

// Deployment tooling rewrites this one line (keep its exact form): where HTML navigations without a
// session are sent. Empty means "answer 401 instead of redirecting".
const SIGN_IN_URL = '';

var SIGNED_COOKIES = ['CloudFront-Policy', 'CloudFront-Signature', 'CloudFront-Key-Pair-Id', 'CloudFront-Expires'];
var B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
// DateGreaterThan is the issue time minus this many seconds (keyhole_core::revocation).
var ISSUE_SKEW_SECONDS = 30;

function cookieValue(cookies, name) {
    var c = cookies[name];
    if (!c) {
        return '';
    }
    return typeof c.value === 'string' ? c.value : '';
}

function header(request, name) {
    var h = request.headers && request.headers[name];
    return h && typeof h.value === 'string' ? h.value : '';
}

// Each base64 character's value by character code: CloudFront's ('-' for '+', '~' for '/') and the
// standard ones; -1 for anything else. A table, not indexOf: this runs on every request.
var B64_VALUE = (function () {
    var table = [];
    for (var i = 0; i < 128; i++) {
        table.push(-1);
    }
    for (var j = 0; j < B64.length; j++) {
        table[B64.charCodeAt(j)] = j;
    }
    table[45] = 62; // '-'
    table[126] = 63; // '~'
    return table;
})();

// CloudFront's URL-safe base64 ('-' for '+', '_' for '=', '~' for '/') decoded to a binary
// string. Written out because cloudfront-js-2.0 and the embedded engine of `keyhole serve` do not
// share a base64 API; four characters a round, as this runs on every request. Trailing padding
// ('_' or '=') is dropped; returns null on any other character outside the alphabet.
function cfBase64Decode(s) {
    var end = s.length;
    while (end > 0 && (s.charCodeAt(end - 1) === 95 || s.charCodeAt(end - 1) === 61)) {
        end--;
    }
    var codes = [];
    var i = 0;
    for (; i + 4 <= end; i += 4) {
        var a = B64_VALUE[s.charCodeAt(i)];
        var b = B64_VALUE[s.charCodeAt(i + 1)];
        var c = B64_VALUE[s.charCodeAt(i + 2)];
        var d = B64_VALUE[s.charCodeAt(i + 3)];
        // Codes past the table read undefined, which fails the test as -1 does.
        if (!(a >= 0 && b >= 0 && c >= 0 && d >= 0)) {
            return null;
        }
        var n = (a << 18) | (b << 12) | (c << 6) | d;
        codes.push(n >> 16, (n >> 8) & 0xff, n & 0xff);
    }
    // One to three characters left: 6, 12 or 18 bits, giving 0, 1 or 2 bytes.
    var acc = 0;
    var bits = 0;
    for (; i < end; i++) {
        var v = B64_VALUE[s.charCodeAt(i)];
        if (!(v >= 0)) {
            return null;
        }
        acc = (acc << 6) | v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            codes.push((acc >> bits) & 0xff);
        }
    }
    return String.fromCharCode.apply(null, codes);
}

// The CloudFront-Policy document, or null when there is none or it does not parse (CloudFront
// refuses such a request itself).
function policyDoc(cookies) {
    var json = cfBase64Decode(cookieValue(cookies, 'CloudFront-Policy'));
    try {
        var doc = json ? JSON.parse(json) : null;
        return doc && doc.Statement && doc.Statement[0] && doc.Statement[0].Condition ? doc.Statement[0] : null;
    } catch (e) {
        return null;
    }
}

function epochOf(condition) {
    var t = condition && condition['AWS:EpochTime'];
    return typeof t === 'number' ? t : null;
}

// The session's end in epoch seconds, read from the policy (DateLessThan) or the canned
// CloudFront-Expires cookie; null when it cannot be read (left to CloudFront).
function sessionEnd(cookies, st) {
    if (cookieValue(cookies, 'CloudFront-Policy')) {
        return st ? epochOf(st.Condition.DateLessThan) : null;
    }
    var expires = cookieValue(cookies, 'CloudFront-Expires');
    return /^[0-9]{1,12}$/.test(expires) ? parseInt(expires, 10) : null;
}

// The deny-list, with the same entries and rule as keyhole_core::revocation: `sig:` + 32 hex
// digits of SHA-256(CloudFront-Signature) refuses that cookie set; a scope prefix
// (`/users/<sub>/`) holding epoch seconds T refuses policies for it or below it issued before T.
// A missing or unreadable store, key or value denies nothing.
async function lookup(kvs, key, exists) {
    try {
        return exists ? await kvs.exists(key) : await kvs.get(key);
    } catch (e) {
        return null;
    }
}

// The policy's prefix (its Resource path up to the last '/' before a wildcard) and each ancestor.
function prefixKeys(resource) {
    var m = typeof resource === 'string' ? /:\/\/[^\/]*(\/[^*?]*)/.exec(resource) : null;
    var keys = [];
    var p = m ? m[1].slice(0, m[1].lastIndexOf('/') + 1) : '';
    while (p) {
        keys.push(p);
        p = p.length > 1 ? p.slice(0, p.lastIndexOf('/', p.length - 2) + 1) : '';
    }
    return keys;
}

async function revoked(cookies, st) {
    var kvs;
    try {
        kvs = cf.kvs();
    } catch (e) {
        return false;
    }
    var sig = cookieValue(cookies, 'CloudFront-Signature');
    if (sig && await lookup(kvs, 'sig:' + crypto.createHash('sha256').update(sig).digest('hex').slice(0, 32), true) === true) {
        return true;
    }
    if (!st) {
        return false;
    }
    var start = epochOf(st.Condition.DateGreaterThan);
    // No issue time: issued before any revocation.
    var issued = start === null ? -Infinity : start + ISSUE_SKEW_SECONDS;
    var keys = prefixKeys(st.Resource);
    for (var i = 0; i < keys.length; i++) {
        var v = await lookup(kvs, keys[i], false);
        if (typeof v === 'string' && /^[0-9]{1,12}$/.test(v) && issued < parseInt(v, 10)) {
            return true;
        }
    }
    return false;
}

function isHtmlNavigation(request) {
    return (request.method === 'GET' || request.method === 'HEAD') && header(request, 'accept').indexOf('text/html') >= 0;
}

function unauthorized(error, description) {
    return {
        statusCode: 401,
        statusDescription: 'Unauthorized',
        headers: {
            'content-type': { value: 'application/json' },
            'cache-control': { value: 'no-store' },
            'www-authenticate': { value: 'Bearer error="' + error + '", error_description="' + description + '"' }
        },
        body: { encoding: 'text', data: JSON.stringify({ error: error, error_description: description }) }
    };
}

function redirect(location) {
    return {
        statusCode: 302,
        statusDescription: 'Found',
        headers: {
            'location': { value: location },
            'cache-control': { value: 'no-store' }
        }
    };
}

// The path (and query) of this request as a same-host return target: exactly one leading slash,
// so '//evil.example' or '/\evil.example' can never become a protocol-relative redirect.
function returnTarget(request) {
    var path = '/' + request.uri.replace(/^[\/\\]+/, '');
    // Query names and values arrive as the viewer sent them (still percent-encoded), so they are
    // joined back as they are; a repeated name carries every value in multiValue.
    var qs = request.querystring || {};
    var parts = [];
    for (var name in qs) {
        var entry = qs[name];
        var values = entry && entry.multiValue ? entry.multiValue : [entry];
        for (var j = 0; j < values.length; j++) {
            if (values[j] && typeof values[j].value === 'string') {
                parts.push(values[j].value === '' ? name : name + '=' + values[j].value);
            }
        }
    }
    return parts.length ? path + '?' + parts.join('&') : path;
}

function denied(request, error, description) {
    if (SIGN_IN_URL && isHtmlNavigation(request)) {
        return redirect(SIGN_IN_URL);
    }
    return unauthorized(error, description);
}

async function handler(event) {
    var request = event.request;
    var cookies = request.cookies || {};
    var signed = false;
    for (var i = 0; i < SIGNED_COOKIES.length; i++) {
        if (cookieValue(cookies, SIGNED_COOKIES[i])) {
            signed = true;
        }
    }
    if (signed) {
        var st = policyDoc(cookies);
        var end = sessionEnd(cookies, st);
        if (end !== null && end * 1000 <= Date.now()) {
            return denied(request, 'session_expired', 'the session has expired; sign in again');
        }
        if (await revoked(cookies, st)) {
            return denied(request, 'session_revoked', 'the session was revoked; sign in again');
        }
        return request;
    }
    if (cookieValue(cookies, 'token')) {
        return redirect('/session/bridge?return=' + encodeURIComponent(returnTarget(request)));
    }
    return denied(request, 'unauthorized', 'sign in first: POST /session with a bearer token');
}
