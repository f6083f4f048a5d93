/**
 * Tests build cards from the core's modules directly, not through an entry
 * point, so they install the Node platform as the "cacard" entry does.
 */
import "../src/platform/node.js";
