/**
 * engage-web: the page API defined by one script tag.
 *
 *   <script src="/dist/engage.js" data-account-id="12345678"></script>
 *
 * `window.ChatApi` exists as soon as the tag has run. The Python engine boots in a Web Worker;
 * calls made before it is ready are queued and answered. No Promise returned here ever rejects:
 * failures resolve with an {@link ErrorOutcome}.
 */

export {};

declare global {
  interface Window {
    ChatApi: EngageWeb.ChatApi;
  }
  // eslint-disable-next-line no-var
  var ChatApi: EngageWeb.ChatApi;
}

export declare namespace EngageWeb {
  /** `appDetails` of the request (an object, or a string holding a JSON object). */
  interface AppDetails {
    appVersion?: string;
    osVersion?: string;
    deviceFamily?: "DESKTOP" | "TABLET" | "MOBILE";
    os?: "WINDOWS" | "MAC_OSX" | "LINUX" | "IOS" | "ANDROID";
    /** A real IPv4 or IPv6 address. */
    ipAddress?: string;
  }

  /** One engagement attribute (SDE): a known `type` and its payload, e.g. `{type: "personal", personal: {...}}`. */
  interface EngagementAttribute {
    type: string;
    [payload: string]: unknown;
  }

  /** The request object of `getEngagement` (LivePerson's shape; every key optional). */
  interface EngagementRequest {
    /** Only "EXTERNAL" is supported (the default). */
    appType?: "EXTERNAL";
    appDetails?: AppDetails | string;
    /** A list of strings or one comma-delimited string. */
    consumerSections?: string[] | string;
    /** SDEs (not ImpressionEvent types: send those with `report`), or a string holding a JSON list. */
    engagementAttributes?: EngagementAttribute[] | string;
    /** Visitor id. Normally left out: the embed sends the stored one. */
    vid?: string;
    /** Session id (needs `vid`). Normally left out: the embed sends the stored one. */
    sid?: string;
  }

  /** `engagementDetails` of an Available outcome. */
  interface EngagementDetails {
    /** Ids as LivePerson sends them: documented as numbers, sent as strings. */
    campaignId: string | number;
    engagementId: string | number;
    contextId: string | number;
    windowId: string | number;
    language: string;
    engagementRevision: number;
    /** How long this engagement may be offered. */
    validForSeconds: number;
    skillId?: number | string;
    skillName?: string;
    /** Only on engagements flagged "authenticated". */
    connectorId?: number | string;
    [extra: string]: unknown;
  }

  /**
   * The server's answer as received (unknown extra keys kept). Outcomes are plain JSON data:
   * keys named like `Object.prototype` members (`__proto__`, `constructor`, `toString`,
   * `valueOf`, `hasOwnProperty`, ...) are dropped at any depth, so an outcome can be spread,
   * `Object.assign`ed and printed safely.
   */
  interface AvailableOutcome {
    status: "Available";
    sessionId: string;
    visitorId: string;
    pageId: string;
    engagementDetails: EngagementDetails;
    /**
     * True when this answer was stored by an earlier page view of the visit and reused, still
     * within its validity (reuseAnswers); absent for an answer the endpoint just gave.
     */
    fromCache?: true;
    /** With fromCache: how old the reused answer is, in ms. */
    ageMs?: number;
    [extra: string]: unknown;
  }

  interface NotAvailableOutcome {
    status: "NotAvailable";
    sessionId: string;
    visitorId: string;
    pageId: string;
    [extra: string]: unknown;
  }

  /**
   * Why a call ended without an answer. `code`: the HTTP status (400, 401, 404, 413, 415, 5xx),
   * "network", "timeout", "cancelled", "malformed" (a success status with a body that is not the
   * API's object), "lookup" (the Domain API could not name the account's App Engagement API;
   * `cause` holds the look-up's own code), "config" (bad or missing options), "redirect" (the
   * endpoint answered with a redirect, which is never followed), "runtime" (the worker could
   * not start within bootTimeoutMs, or died; a new one starts by itself) or, for a report
   * only, "dropped" (the outbox was full). `field` names the offending request field or option
   * when there is one; `internalCode` is LivePerson's own code when its answer gave one (20:
   * the account is loading, 33: illegal version, ...).
   */
  interface ErrorDetail {
    code:
      | number | "network" | "timeout" | "cancelled" | "malformed" | "lookup" | "config"
      | "redirect" | "runtime" | "dropped";
    message: string;
    field: string | null;
    /**
     * Whether time can cure this failure: the same call, made again later, may succeed. True
     * for a status the retry policy retries (429, 5xx), a cold account, "network", "timeout",
     * "malformed", "cancelled", "runtime" and a "lookup" whose cause is one of those; false for
     * validation (400, 401), other 4xx, "redirect", "config" and "dropped". Decided by the
     * engine from the retry policy; the outbox keeps a report exactly when it is true.
     */
    transient: boolean;
    internalCode?: number;
    cause?: number | string;
    [extra: string]: unknown;
  }

  interface ErrorOutcome {
    status: "Error";
    error: ErrorDetail;
    sessionId?: string;
    visitorId?: string;
  }

  /** What `getEngagement` resolves with and `onEngagement` receives: exactly one per call. */
  type Outcome = AvailableOutcome | NotAvailableOutcome | ErrorOutcome;

  /**
   * What `report` resolves with. `queued: true`: not delivered yet, kept in the durable outbox
   * and delivered later, in order (the error says why it could not be delivered now);
   * `retryInMs`: when the outbox tries again, from the engine's outbox policy (backoff with
   * jitter; absent while the runtime itself is down: the next runtime tries when it is up).
   */
  type ReportResult =
    | { status: "Reported"; delivered: true; [extra: string]: unknown }
    | (ErrorOutcome & { delivered?: false; queued?: boolean; retryInMs?: number });

  /** Payload of `onRetry`, fired before each timed retry. */
  interface RetryEvent {
    /** The attempt about to be made after the wait (2 = the first retry). */
    attempt: number;
    /** How long until the next attempt. */
    delayMs: number;
    /**
     * Why: "NotAvailable", "network", "timeout", "http-503", "account-loading" (a cold
     * LivePerson account), "malformed", ...
     */
    reason: string;
    /** "lookup" when it is the Domain API look-up that is retried. */
    stage?: "lookup";
    [extra: string]: unknown;
  }

  /** Payload of `onAttempt`, fired before each request: what LivePerson receives. */
  interface AttemptEvent {
    /** 1 for the first request of a call, then one more per retry. */
    attempt: number;
    /** "lookup" (Domain API), "check" (create session) or "update" (a report). */
    stage: "lookup" | "check" | "update";
    method: "GET" | "POST" | "PUT";
    url: string;
  }

  /** Payload of `onReady`. */
  interface ReadyEvent {
    version: string;
    /** Worker boot time (Pyodide + engine), when known. */
    bootMs?: number;
    /** How the worker booted: from the build's memory snapshot, or normally (slower). */
    bootKind?: "snapshot" | "normal";
  }

  /**
   * Retry options (camelCase, milliseconds). A preset ("default", "liveperson", "none") is the
   * base; other keys override it. The engine's own names in seconds are documented in
   * engage_web/core/retry.py.
   */
  interface RetryOptions {
    preset?: "default" | "liveperson" | "none";
    /** Retries after network failures, timeouts, 429 and 5xx (alias: maxRetries). */
    retries?: number;
    maxRetries?: number;
    attemptTimeoutMs?: number;
    deadlineMs?: number;
    backoffInitialMs?: number;
    backoffFactor?: number;
    backoffMaxMs?: number;
    /** 0..1: each wait varies by ± this fraction. */
    jitter?: number;
    /** Explicit waits before retry 1, 2, ... (the last repeats). */
    scheduleMs?: number[];
    retryStatuses?: number[];
    retryAfterMaxMs?: number;
    /** Further checks before NotAvailable is reported. */
    notAvailableRechecks?: number;
    notAvailableDelayMs?: number;
    /** Waits for a cold account ("Loading account", 500/20) before they count as retries. */
    loadingRetries?: number;
    loadingDelayMs?: number;
    retryMalformed?: boolean;
  }

  /** Options of `watch`, in milliseconds (the engine's WatchPolicy in engage_web/driver/watch.py). */
  interface WatchOptions {
    /** Re-check at least this often (default 60000). */
    intervalMs?: number;
    /** Re-check this long before an Available engagement's validForSeconds run out (30000). */
    expiryMarginMs?: number;
    /** First re-check after an Error a re-check may cure; doubles up to intervalMs (5000). */
    outageIntervalMs?: number;
    /** The shortest wait between checks (1000). */
    minIntervalMs?: number;
  }

  type Callback<P> = (this: any, payload: P) => unknown;
  /** A function, `{callback, context}` (called with `this` = context), or an array of either. */
  type Binding<P> =
    | Callback<P>
    | { callback: Callback<P>; context?: unknown }
    | Array<Callback<P> | { callback: Callback<P>; context?: unknown }>;

  interface EventPayloads {
    onEngagement: Outcome;
    onRetry: RetryEvent;
    onAttempt: AttemptEvent;
    onReady: ReadyEvent;
  }
  type EventName = keyof EventPayloads;

  /** Options of `init`; the script tag's data-* attributes set the same ones. */
  interface Config {
    /** data-account-id; `^[A-Za-z0-9_]{1,20}$`. All a LivePerson account needs. */
    accountId?: string;
    /**
     * The App Engagement API's base URL (data-endpoint), skipping the Domain API look-up;
     * relative URLs resolve against the page.
     */
    endpoint?: string;
    /** LivePerson's Domain API (data-domain-api; default https://api.liveperson.net). */
    domainApi?: string;
    /** Send reports as POST with X-HTTP-Method-Override: PUT (data-method-override). */
    methodOverride?: boolean;
    /** A preset name (data-retry-preset) or options. */
    retry?: RetryOptions | "default" | "liveperson" | "none";
    /** Log the messages to and from the worker with console.debug (data-debug). */
    debug?: boolean;
    /**
     * How long a call waits for the runtime to start, in ms (data-boot-timeout-ms; default
     * 45000). A worker that has not started by then is replaced, with backoff (1 s, doubling,
     * up to 5 min), and may take up to 4x as long on its next tries.
     */
    bootTimeoutMs?: number;
    /**
     * Answer a page view's first call for a request from an Available answer an earlier page
     * view of this visit got, while it is valid (its validForSeconds minus a margin of 60 s or
     * a tenth; same account, endpoint, request and session); data-reuse-answers; default true.
     */
    reuseAnswers?: boolean;
    /** The oldest a reused answer may be, in ms (data-reuse-max-age-ms); default: its validity. */
    reuseMaxAgeMs?: number | null;
    onEngagement?: Binding<Outcome>;
    onRetry?: Binding<RetryEvent>;
    onAttempt?: Binding<AttemptEvent>;
    onReady?: Binding<ReadyEvent>;
  }

  interface ChatApi {
    /** Check eligibility and availability. Never rejects; exactly one outcome per call. */
    getEngagement(params?: EngagementRequest): Promise<Outcome>;
    /** Set or change options; the runtime starts once accountId is known. */
    init(config: Config): boolean;
    /** Add callbacks for an event; an onReady binding made after start-up is called at once. */
    bind<E extends EventName>(event: E, binding: Binding<EventPayloads[E]>): boolean;
    /** Remove callbacks (all of the event's when `binding` is left out). */
    unbind<E extends EventName>(event: E, binding?: Binding<EventPayloads[E]>): boolean;
    /**
     * Add SDEs (impression events allowed) to the visitor session: an update of the session for
     * `pageId` (default: the page of the last answer in this tab). Never rejects.
     */
    report(engagementAttributes: EngagementAttribute[] | string, pageId?: string): Promise<ReportResult>;
    /** Stop every pending check (each resolves with an Error outcome, code "cancelled") and the watch. */
    cancel(): void;
    /**
     * Keep the answer fresh (kiosks): re-check on a schedule; `onEngagement` fires for the first
     * outcome and then only when it changes. A new watch replaces the previous one. Returns
     * false (and logs why) when params or options are not JSON data.
     */
    watch(params?: EngagementRequest, options?: WatchOptions): boolean;
    /** Stop the watch, if any. */
    unwatch(): boolean;
    /**
     * True while the Python runtime is up and configured; false again while a failed runtime
     * is replaced (onReady fires when the new one is up).
     */
    readonly ready: boolean;
    /**
     * How many reports wait in the durable outbox for the endpoint to answer again (every tab's:
     * another tab's report is counted a moment after it was made, once the browser has passed
     * its localStorage write on to this tab).
     */
    readonly queuedReports: number;
    /** The engage-web version (also how a second tag detects the first). */
    readonly engageWeb: string;
  }
}
