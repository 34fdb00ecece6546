// Types for @keyhole/session (hand-written; the module is plain JavaScript).

/** What is in flight (`busy`), or what failed (`unavailable`). */
export type SessionAction = 'start' | 'restore' | 'refresh' | 'logout';

/**
 * Why there is no session. The server's own `error` codes pass through, so other strings appear
 * too (for example a 403 refusing a cross-site origin, or `http_404` for a wrong `baseUrl`).
 */
export type SignedOutReason =
  | 'no_session' // GET /session found no session (401)
  | 'invalid_token' // POST /session refused the token (401)
  | 'access_denied' // the token is fine but no scope applies, or the call was refused (403)
  | 'session_revoked' // handleRevoked(): the edge refuses the session and a refresh did not help
  | 'expired' // expiresAt passed and no refresh was possible
  | 'logged_out' // logout() cleared the cookies
  | 'no_token' // getToken gave null, undefined or an empty string
  | (string & {});

/** Why the service could not be reached, after every retry. */
export type UnavailableReason =
  | 'temporarily_unavailable' // 503 from the signer
  | 'network_error' // fetch failed
  | 'timeout' // no answer within timeoutMs
  | 'token_error' // getToken threw or rejected
  | 'bad_response' // a 2xx without {expiresAt, scopes}
  | (string & {}); // another 5xx or 429 code, or `http_<status>`

interface StateFields {
  /** When the cookies expire: epoch seconds, as the server wrote it. */
  expiresAt: number | null;
  /** The path patterns the cookies cover, such as `/users/<sub>/*`. */
  readonly scopes: readonly string[];
  /** When the next automatic refresh runs: epoch seconds by this device's clock. */
  refreshAt: number | null;
  action: SessionAction | null;
  /** 1 for the first try of a call, 2 and up for its retries; 0 when nothing is in flight. */
  attempt: number;
  reason: string | null;
  /** The server's `error_description`, or what the network error said. */
  description: string | null;
}

/** Before the first call: nothing is known. */
export interface UnknownState extends StateFields {
  status: 'unknown';
  expiresAt: null;
  action: null;
  reason: null;
}

/** A call is in flight (or waiting to retry). `expiresAt` is set while an older session still holds. */
export interface BusyState extends StateFields {
  status: 'busy';
  action: SessionAction;
  refreshAt: null;
  reason: null;
}

/** The cookies are set; assets load. `refreshAt` is null when no token source can refresh them. */
export interface SignedInState extends StateFields {
  status: 'signed-in';
  expiresAt: number;
  action: null;
  reason: null;
}

/** No session: show the sign-in. */
export interface SignedOutState extends StateFields {
  status: 'signed-out';
  expiresAt: null;
  refreshAt: null;
  action: null;
  reason: SignedOutReason;
}

/** The service could not be reached after every retry. `expiresAt` is set while an older session still holds. */
export interface UnavailableState extends StateFields {
  status: 'unavailable';
  refreshAt: null;
  action: SessionAction;
  reason: UnavailableReason;
}

export type SessionState = UnknownState | BusyState | SignedInState | SignedOutState | UnavailableState;

/** Resolves to the JWT to send (an id token for Cognito), or null when nobody is signed in. */
export type GetToken = () => string | null | undefined | Promise<string | null | undefined>;

/** The smallest event target the client listens on. */
export interface EventSource {
  addEventListener(type: string, listener: () => void): void;
  removeEventListener(type: string, listener: () => void): void;
}

export interface SessionOptions {
  /** Where `/session` lives, e.g. `https://assets.example.com`. Default `''`: this page's origin. */
  baseUrl?: string;
  fetch?: (url: string, init: RequestInit) => Promise<Response>;
  /** Milliseconds since the epoch. Default `Date.now`. */
  now?: () => number;
  setTimeout?: (callback: () => void, ms: number) => unknown;
  clearTimeout?: (handle: any) => void;
  /** A number in [0, 1) for the backoff's jitter. Default `Math.random`. */
  random?: () => number;
  /** Listened on for `visibilitychange`. Default `globalThis.document`. */
  document?: EventSource & { visibilityState?: string };
  /** Listened on for `online`. Default `globalThis.window`. */
  window?: EventSource;
  /** Seconds before `expiresAt` to refresh. Default: 60, or a tenth of the lifetime when that is less. Never before halfway. */
  refreshMargin?: number | null;
  /** Tries per call, the first included. Default 5. */
  maxAttempts?: number;
  /** The first retry waits between half and all of this. Default 1000; doubles per retry. */
  retryDelayMs?: number;
  /** No wait is longer. Default 30000. */
  maxRetryDelayMs?: number;
  /** A request with no answer by then is aborted and retried. Default 15000; 0 turns it off. */
  timeoutMs?: number;
  /** Called with every new state. */
  onChange?: ((state: SessionState) => void) | null;
}

export interface Session {
  /** The current state; a new frozen object on every change. */
  readonly state: SessionState;
  /** Signs in: `await getToken()`, then POST /session. Keeps `getToken` (not the token) to refresh with. */
  start(getToken?: GetToken): Promise<SessionState>;
  /** On page load: GET /session says whether the cookies still hold a session. */
  restore(): Promise<SessionState>;
  /** POST again with a new token now; without a token source, GET /session instead. */
  refresh(): Promise<SessionState>;
  /** DELETE /session: the cookies are cleared, the token source dropped. */
  logout(): Promise<SessionState>;
  /** Gives (or, with null, takes away) the token source, e.g. after restore() on page load. */
  setTokenSource(getToken: GetToken | null): void;
  /** Call when an asset answered 401 `session_revoked`: refreshes once; a second call reports signed-out. */
  handleRevoked(): Promise<SessionState>;
  /** Calls `listener` with every new state; returns the function that stops it. */
  subscribe(listener: (state: SessionState) => void): () => void;
  /** Removes the listeners and timers, aborts the request in flight; later calls do nothing. */
  dispose(): void;
}

export function createSession(options?: SessionOptions): Session;
