/**
 * Applets real CACs carry and ActivClient probes, with nothing in them
 * (libcacard cac.c cac_new_empty_applet): 02FB, 02FE, 02FD, 1201, 1202 with
 * one object each, 02F0/F1/F2 with none, and the ACF with four.
 * Also the "passthrough" Person Instance / Personnel applets (cac.c cac_new_passthrough_applet), whose
 * buffers come from a CKO_DATA object of that label when the store has one.
 */
import { SW } from "../iso7816/status.js";
import type { CardServices } from "../card/applet.js";
import { EMPTY_FILES, objectFiles, type ObjectFiles } from "./buffers.js";
import { ReadableCacApplet } from "./cac-applet.js";
import {
  APPLET_VERSION_COMMON,
  BUFFER_OTHER,
  BUFFER_SIMPLETLV,
  PLACEHOLDER_BUFFER_SIZE,
  PropTag,
  UNKNOWN_26,
  appletInformation,
  bufferProperties,
  numberOfObjects,
  object,
  objectId,
  propertyLists,
  type PropertyLists,
} from "./properties.js";
import { parseSimpleTlv, SimpleTlvError } from "./simpletlv.js";

function placeholderProperties(oids: readonly Uint8Array[], bufferType: number): PropertyLists {
  return propertyLists(
    [
      appletInformation(APPLET_VERSION_COMMON),
      numberOfObjects(oids.length),
      ...oids.map((oid) =>
        object(
          PropTag.TV_OBJECT,
          objectId(oid),
          bufferProperties(bufferType, PLACEHOLDER_BUFFER_SIZE, PLACEHOLDER_BUFFER_SIZE),
          UNKNOWN_26,
        ),
      ),
    ],
    false, // short == long for these
  );
}

export class EmptyApplet extends ReadableCacApplet {
  readonly properties: PropertyLists;

  constructor(aid: Uint8Array, name: string, oids: readonly Uint8Array[]) {
    super({ aid, name, objectIds: oids });
    this.properties = placeholderProperties(oids, BUFFER_OTHER);
  }

  protected files(): ObjectFiles {
    return EMPTY_FILES;
  }
}

export class PassthroughApplet extends ReadableCacApplet {
  readonly properties: PropertyLists;
  #files: ObjectFiles | null = null;

  constructor(
    aid: Uint8Array,
    readonly label: string,
    oid: Uint8Array,
  ) {
    super({ aid, name: label, objectIds: [oid] });
    this.updateBufferSw = SW.COMMAND_NOT_SUPPORTED;
    this.properties = placeholderProperties([oid], BUFFER_SIMPLETLV);
  }

  onSelect(): void {
    this.#files = null; // reloaded on the next READ BUFFER, as libcacard does
  }

  protected files(card: CardServices): ObjectFiles {
    if (this.#files === null) this.#files = loadDataObject(card.readDataObject(this.label));
    return this.#files;
  }
}

/** A CKO_DATA value is flat SimpleTLV; split it into the two files. Unparsable → empty. */
function loadDataObject(value: Uint8Array | null): ObjectFiles {
  if (value === null) return EMPTY_FILES;
  try {
    return objectFiles(parseSimpleTlv(value));
  } catch (e) {
    if (e instanceof SimpleTlvError) return EMPTY_FILES;
    throw e;
  }
}
