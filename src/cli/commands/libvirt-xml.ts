/** PLACEHOLDER: being written in parallel; replaced by its owner. */
import type { Command } from "../command.js";
import { EXIT_FAILURE } from "../errors.js";

export const command: Command = {
  name: "libvirt-xml",
  summary: "(not yet available)",
  help: "Usage: cacard libvirt-xml (not yet available)",
  async run(_argv, io) {
    io.stderr.write("cacard libvirt-xml: not yet available\n");
    return EXIT_FAILURE;
  },
};
