/**
 * What the CAC personality cannot do with a token's credentials, said once at
 * start, one line per certificate: libcacard serves such a certificate and
 * only fails at SIGN (6985), which leaves the user guessing.
 */
import { describeAlgorithm, type Credential } from "../token/types.js";

/** One line per credential the CAC card serves but cannot sign with. */
export function cacCredentialWarnings(credentials: readonly Credential[]): string[] {
  const warnings: string[] = [];
  for (const c of credentials) {
    const name = JSON.stringify(c.label);
    if (c.algorithm.kind === "unsupported") {
      warnings.push(`certificate ${name} has a ${c.algorithm.name} key, which the card cannot use: it is shown but cannot sign`);
    } else if (c.algorithm.kind !== "rsa") {
      warnings.push(
        `certificate ${name} has an ${describeAlgorithm(c.algorithm)} key; a CAC signs with RSA only, so its SIGN answers 6985`,
      );
    } else if (!c.hasPrivateKey) {
      warnings.push(`certificate ${name} has no private key in the token: it is shown but cannot sign (SIGN answers 6985)`);
    }
  }
  return warnings;
}
