/**
 * Issue 16 item 4: files the user names are read with a size limit and, for
 * FIFOs and devices, a time limit. Each case has a hard timeout: a
 * regression here is a hang, not a failure.
 */
import { afterAll, describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { closeSync, constants, mkdtempSync, openSync, rmSync, writeFileSync, mkdirSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FileReadError, readFileBounded } from "../../src/util/read-file.js";

const tmp = mkdtempSync(join(tmpdir(), "cacard-read-file-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function failure(f: () => unknown): FileReadError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(FileReadError);
    return e as FileReadError;
  }
  throw new Error("no error");
}

describe("readFileBounded", () => {
  it("reads a regular file whole", () => {
    const p = join(tmp, "pw");
    writeFileSync(p, "secret\n");
    expect(Buffer.from(readFileBounded(p, { maxBytes: 64 })).toString()).toBe("secret\n");
  });

  it("refuses a regular file over the limit from its size", () => {
    const p = join(tmp, "big");
    writeFileSync(p, Buffer.alloc(65));
    const e = failure(() => readFileBounded(p, { maxBytes: 64 }));
    expect(e.code).toBe("FILE_TOO_LARGE");
    expect(e.message).toBe(`${p}: is larger than 64 bytes (the limit for this file)`);
  });

  it("/dev/zero stops at the limit instead of filling memory", () => {
    const e = failure(() => readFileBounded("/dev/zero", { maxBytes: 64 * 1024 }));
    expect(e.code).toBe("FILE_TOO_LARGE");
    expect(e.message).toMatch(/^\/dev\/zero: is larger than 65536 bytes/);
  }, 5_000);

  it("a FIFO nobody writes gives nothing at once (no wait for a writer)", () => {
    const p = join(tmp, "fifo-no-writer");
    execFileSync("mkfifo", [p]);
    const t0 = Date.now();
    expect(readFileBounded(p, { maxBytes: 64 })).toHaveLength(0);
    expect(Date.now() - t0).toBeLessThan(1_000);
  }, 5_000);

  it("a FIFO whose writer never writes times out with a clear reason", () => {
    const p = join(tmp, "fifo-idle-writer");
    execFileSync("mkfifo", [p]);
    // A writer that holds the FIFO open and writes nothing (O_RDWR does not block on Linux).
    const writer = openSync(p, constants.O_RDWR | constants.O_NONBLOCK);
    try {
      const t0 = Date.now();
      const e = failure(() => readFileBounded(p, { maxBytes: 64, timeoutMs: 300 }));
      expect(e.code).toBe("FILE_TIMEOUT");
      expect(e.message).toMatch(/did not end within 300 ms/);
      expect(Date.now() - t0).toBeLessThan(2_000);
    } finally {
      closeSync(writer);
    }
  }, 5_000);

  it("a FIFO with content that keeps coming is cut at the limit", () => {
    const p = join(tmp, "fifo-flood");
    execFileSync("mkfifo", [p]);
    const writer = openSync(p, constants.O_RDWR | constants.O_NONBLOCK);
    try {
      writeSync(writer, Buffer.alloc(4096, 0x41));
      const e = failure(() => readFileBounded(p, { maxBytes: 1024, timeoutMs: 300 }));
      expect(e.code).toBe("FILE_TOO_LARGE");
    } finally {
      closeSync(writer);
    }
  }, 5_000);

  it("names the reason: missing, a directory", () => {
    expect(failure(() => readFileBounded(join(tmp, "absent"), { maxBytes: 64 })).message).toMatch(/absent: no such file$/);
    const d = join(tmp, "dir");
    mkdirSync(d);
    const e = failure(() => readFileBounded(d, { maxBytes: 64 }));
    expect([e.code, e.reason]).toEqual(["FILE_NOT_A_FILE", "is a directory"]);
  });
});
