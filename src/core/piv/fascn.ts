/**
 * FASC-N (Federal Agency Smart Credential Number) in its 200-bit BCD form
 * (TIG SCEPACS v2.3 §6; SP 800-73-4 Part 1 §3.1.2 table 9 tag 30): 40
 * characters of 4 data bits, least significant first, plus an odd parity
 * bit, packed most significant bit first into 25 bytes.
 */

/** Start sentinel, field separator, end sentinel (their 4-bit codes). */
const SS = 0b1011;
const FS = 0b1101;
const ES = 0b1111;
export const FASCN_LENGTH = 25;

/** The fields of a FASC-N, as decimal digit strings. */
export interface FascnFields {
  /** 4 digits; 9999 marks a non-federal issuer (OpenSC then takes the GUID as the card serial). */
  readonly agencyCode: string;
  readonly systemCode: string; // 4
  readonly credentialNumber: string; // 6
  readonly credentialSeries: string; // 1
  readonly individualCredentialIssue: string; // 1
  readonly personIdentifier: string; // 10
  readonly organizationalCategory: string; // 1
  readonly organizationalIdentifier: string; // 4
  readonly personAssociationCategory: string; // 1
}

const WIDTHS: Readonly<Record<keyof FascnFields, number>> = {
  agencyCode: 4,
  systemCode: 4,
  credentialNumber: 6,
  credentialSeries: 1,
  individualCredentialIssue: 1,
  personIdentifier: 10,
  organizationalCategory: 1,
  organizationalIdentifier: 4,
  personAssociationCategory: 1,
};

function digits(name: keyof FascnFields, value: string): number[] {
  if (!new RegExp(`^\\d{${WIDTHS[name]}}$`).test(value)) {
    throw new RangeError(`FASC-N ${name} must be ${WIDTHS[name]} digits, got ${JSON.stringify(value)}`);
  }
  return [...value].map((c) => c.charCodeAt(0) - 0x30);
}

/** Encodes the fields; the LRC is the XOR of every character's 4 data bits. */
export function encodeFascn(f: FascnFields): Uint8Array {
  const chars = [
    SS,
    ...digits("agencyCode", f.agencyCode),
    FS,
    ...digits("systemCode", f.systemCode),
    FS,
    ...digits("credentialNumber", f.credentialNumber),
    FS,
    ...digits("credentialSeries", f.credentialSeries),
    FS,
    ...digits("individualCredentialIssue", f.individualCredentialIssue),
    FS,
    ...digits("personIdentifier", f.personIdentifier),
    ...digits("organizationalCategory", f.organizationalCategory),
    ...digits("organizationalIdentifier", f.organizationalIdentifier),
    ...digits("personAssociationCategory", f.personAssociationCategory),
    ES,
  ];
  chars.push(chars.reduce((a, c) => a ^ c, 0));
  const out = new Uint8Array(FASCN_LENGTH);
  let bit = 0;
  const put = (b: number) => {
    if (b) out[bit >> 3] |= 0x80 >> (bit & 7);
    bit++;
  };
  for (const c of chars) {
    let ones = 0;
    for (let i = 0; i < 4; i++) {
      const b = (c >> i) & 1;
      ones += b;
      put(b);
    }
    put(ones % 2 === 0 ? 1 : 0);
  }
  return out;
}
