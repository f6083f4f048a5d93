/** VSCard passthru backend: cacard as the card behind QEMU's ccid-card-passthru. */
export * from "./codec.js";
export * from "./session.js";
export {
  VscardClient,
  VscardListener,
  runVscardClient,
  runVscardListener,
  backoffDelay,
  formatEndpoint,
  DEFAULT_BACKOFF,
  DEFAULT_CONNECT_TIMEOUT_MS,
  STOP_GRACE_MS,
  type Endpoint,
  type BackoffOptions,
  type VscardClientOptions,
  type VscardListenerOptions,
} from "./client.js";
export * from "./tls.js";
export { BusyPoll, DEFAULT_BUSY_POLL_US, MAX_BUSY_POLL_SKIP, busyPollWindowUs } from "./busy-poll.js";
export * from "./events.js";
export * from "./address.js";
export * from "./qemu-config.js";
