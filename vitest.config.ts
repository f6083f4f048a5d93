import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    setupFiles: ["test/setup-platform.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Interop suites own system daemons (pcscd, QEMU) on fixed loopback ports inside
    // their own namespaces; running files one at a time keeps the 2-core CI machine calm.
    fileParallelism: false,
  },
});
