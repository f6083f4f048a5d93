/** VSCard passthru backend: cacard as the card behind QEMU's ccid-card-passthru. */
export * from "./codec.js";
export * from "./session.js";
export * from "./connection.js";
export * from "./client.js";
export * from "./listener.js";
export * from "./tls.js";
export { BusyPoll, DEFAULT_BUSY_POLL_US, MAX_BUSY_POLL_SKIP, busyPollWindowUs } from "./busy-poll.js";
export * from "./address.js";
