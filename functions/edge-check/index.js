// Keyhole edge check: a CloudFront Function (runtime cloudfront-js-2.0) on viewer request for the
// asset behaviour. CloudFront's trusted key group does the cryptographic check of the signed
// cookies; this function only denies more or answers better (a clear 401, a sign-in redirect, the
// bridge for the classic `token` cookie). It never grants: every request it lets through still has
// to pass CloudFront's own check, so it is safe whichever order CloudFront runs the two in.
// No modules, no network, no clock other than Date.now(). `keyhole serve` runs this very file.

// Deployment tooling rewrites this one line (keep its exact form): where HTML navigations without a
// session are sent. Empty means "answer 401 instead of redirecting".
const SIGN_IN_URL = '';

var SIGNED_COOKIES = ['CloudFront-Policy', 'CloudFront-Signature', 'CloudFront-Key-Pair-Id', 'CloudFront-Expires'];
var B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

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

// CloudFront's URL-safe base64 ('-' for '+', '_' for '=', '~' for '/') decoded to a binary
// string. Written out because cloudfront-js-2.0 and the embedded engine of `keyhole serve` do not
// share a base64 API. Returns null on any character outside the alphabet.
function cfBase64Decode(s) {
    var std = s.replace(/-/g, '+').replace(/_/g, '=').replace(/~/g, '/').replace(/=+$/, '');
    var out = '';
    var bits = 0;
    var acc = 0;
    for (var i = 0; i < std.length; i++) {
        var v = B64.indexOf(std.charAt(i));
        if (v < 0) {
            return null;
        }
        acc = (acc << 6) | v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += String.fromCharCode((acc >> bits) & 0xff);
        }
    }
    return out;
}

// The session's end in epoch seconds, read from the policy (DateLessThan) or the canned
// CloudFront-Expires cookie; null when it cannot be read (CloudFront will refuse such a request
// itself, so this function leaves it alone).
function sessionEnd(cookies) {
    var policy = cookieValue(cookies, 'CloudFront-Policy');
    if (policy) {
        var json = cfBase64Decode(policy);
        if (json === null) {
            return null;
        }
        try {
            var doc = JSON.parse(json);
            var end = doc.Statement[0].Condition.DateLessThan['AWS:EpochTime'];
            return typeof end === 'number' ? end : null;
        } catch (e) {
            return null;
        }
    }
    var expires = cookieValue(cookies, 'CloudFront-Expires');
    if (/^[0-9]{1,12}$/.test(expires)) {
        return parseInt(expires, 10);
    }
    return null;
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

function handler(event) {
    var request = event.request;
    var cookies = request.cookies || {};
    var signed = false;
    for (var i = 0; i < SIGNED_COOKIES.length; i++) {
        if (cookieValue(cookies, SIGNED_COOKIES[i])) {
            signed = true;
        }
    }
    if (signed) {
        var end = sessionEnd(cookies);
        if (end !== null && end * 1000 <= Date.now()) {
            return denied(request, 'session_expired', 'the session has expired; sign in again');
        }
        return request;
    }
    if (cookieValue(cookies, 'token')) {
        return redirect('/session/bridge?return=' + encodeURIComponent(returnTarget(request)));
    }
    return denied(request, 'unauthorized', 'sign in first: POST /session with a bearer token');
}
