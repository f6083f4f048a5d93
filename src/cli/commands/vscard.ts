/** PLACEHOLDER: being written in parallel; replaced by its owner. */
import type { Command } from "../command.js";
import { EXIT_FAILURE } from "../errors.js";

export const command: Command = {
  name: "vscard",
  summary: "(not yet available)",
  help: "Usage: cacard vscard (not yet available)",
  async run(_argv, io) {
    io.stderr.write("cacard vscard: not yet available\n");
    return EXIT_FAILURE;
  },
};
