/** Parser for the golden transcript format documented in test/vectors/README.md. */
export type Step =
  | { kind: "apdu"; command: string; expected: string; title: string; line: number }
  | { kind: "atr"; expected: string; title: string; line: number }
  | { kind: "reset"; title: string; line: number };

export interface Transcript {
  db: string;
  certs: string[];
  steps: Step[];
}

export function parseTranscript(text: string): Transcript {
  const lines = text.split("\n");
  let db = "nssdb";
  let certs = ["cert1", "cert2", "cert3"];
  let title = "";
  const steps: Step[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line.startsWith("#!")) {
      for (const kv of line.slice(2).trim().split(/\s+/)) {
        const [k, v] = kv.split("=");
        if (k === "db") db = v;
        if (k === "certs") certs = v.split(",");
      }
    } else if (line.startsWith("## ")) title = line.slice(3);
    else if (line === "!reset") steps.push({ kind: "reset", title, line: i + 1 });
    else if (line === "!atr" || line.startsWith(">> ")) {
      const answer = lines[i + 1]?.trim() ?? "";
      if (!answer.startsWith("<< ")) throw new Error(`line ${i + 2}: expected a << line`);
      const expected = answer.slice(3);
      if (line === "!atr") steps.push({ kind: "atr", expected, title, line: i + 1 });
      else steps.push({ kind: "apdu", command: line.slice(3).replace(/[\s:]/g, ""), expected, title, line: i + 1 });
      i++;
    }
  }
  return { db, certs, steps };
}
