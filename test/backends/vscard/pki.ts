/**
 * A throw-away PKI made with openssl at test time, in QEMU's tls-creds-x509
 * layout. Certificates carry the extensions QEMU's sanity check wants
 * (CA:TRUE on the CA, CA:FALSE + EKU on leaves, IP SAN 127.0.0.1 on the server).
 */
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

function openssl(args: string[], cwd: string): void {
  execFileSync("openssl", args, { cwd, stdio: ["ignore", "ignore", "pipe"] });
}

export interface TestPki {
  readonly root: string;
  /** ca-cert, ca-crl (revoking `revoked`), client-cert/key, server-cert/key: all valid. */
  readonly good: string;
  /** Same CA, but client-cert/key and server-cert/key are the revoked pair; with ca-crl.pem. */
  readonly revoked: string;
  /** ca-cert of the good CA, client/server certs from another CA. */
  readonly foreign: string;
  /** Good CA; server cert valid only for DNS:elsewhere.example. */
  readonly wrongName: string;
  /** Good CA and certs; client-key.pem and server-key.pem encrypted with PASSPHRASE. */
  readonly encrypted: string;
  /** Good CA and certs, no CRL file. */
  readonly noCrl: string;
}

export const PASSPHRASE = "s3cret";

const LEAF_EXT = (eku: string, san?: string) =>
  [
    "basicConstraints=critical,CA:FALSE",
    "keyUsage=digitalSignature,keyEncipherment",
    `extendedKeyUsage=${eku}`,
    ...(san ? [`subjectAltName=${san}`] : []),
  ].join("\n") + "\n";

function makeCa(dir: string, name: string): void {
  mkdirSync(dir, { recursive: true });
  openssl(
    [
      "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca-key.pem", "-out", "ca-cert.pem",
      "-days", "3", "-subj", `/CN=${name}`, "-addext", "basicConstraints=critical,CA:TRUE",
      "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    ],
    dir,
  );
  writeFileSync(join(dir, "index.txt"), "");
  writeFileSync(join(dir, "crlnumber"), "01\n");
  writeFileSync(
    join(dir, "ca.cnf"),
    `[ ca ]\ndefault_ca = d\n[ d ]\ndir = ${dir}\ndatabase = $dir/index.txt\ncrlnumber = $dir/crlnumber\n` +
      `default_md = sha256\ndefault_crl_days = 3\ncertificate = $dir/ca-cert.pem\nprivate_key = $dir/ca-key.pem\n`,
  );
}

function issue(caDir: string, name: string, cn: string, ext: string): void {
  writeFileSync(join(caDir, `${name}.ext`), ext);
  openssl(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", `${name}-key.pem`, "-out", `${name}.csr`, "-subj", `/CN=${cn}`], caDir);
  openssl(
    [
      "x509", "-req", "-in", `${name}.csr`, "-CA", "ca-cert.pem", "-CAkey", "ca-key.pem", "-CAcreateserial",
      "-out", `${name}-cert.pem`, "-days", "3", "-sha256", "-extfile", `${name}.ext`,
    ],
    caDir,
  );
}

function layout(dir: string, files: Record<string, string>): string {
  mkdirSync(dir, { recursive: true });
  for (const [to, from] of Object.entries(files)) if (from) copyFileSync(from, join(dir, to));
  return dir;
}

export function makeTestPki(): TestPki {
  const root = mkdtempSync(join(tmpdir(), "cacard-pki-"));
  const ca = join(root, "ca");
  const other = join(root, "other-ca");
  makeCa(ca, "cacard test CA");
  makeCa(other, "some other CA");
  const SERVER_SAN = "IP:127.0.0.1,DNS:localhost";
  issue(ca, "server", "localhost", LEAF_EXT("serverAuth", SERVER_SAN));
  issue(ca, "client", "cacard client", LEAF_EXT("clientAuth"));
  issue(ca, "rserver", "localhost", LEAF_EXT("serverAuth", SERVER_SAN));
  issue(ca, "rclient", "revoked client", LEAF_EXT("clientAuth"));
  issue(ca, "elsewhere", "elsewhere.example", LEAF_EXT("serverAuth", "DNS:elsewhere.example"));
  issue(other, "server", "localhost", LEAF_EXT("serverAuth", SERVER_SAN));
  issue(other, "client", "intruder", LEAF_EXT("clientAuth"));
  for (const r of ["rserver", "rclient"]) openssl(["ca", "-config", "ca.cnf", "-revoke", `${r}-cert.pem`], ca);
  openssl(["ca", "-config", "ca.cnf", "-gencrl", "-out", "ca-crl.pem"], ca);
  for (const k of ["client", "server"]) {
    openssl(
      ["pkcs8", "-topk8", "-v2", "aes-256-cbc", "-in", `${k}-key.pem`, "-out", `${k}-key.enc.pem`, "-passout", `pass:${PASSPHRASE}`],
      ca,
    );
  }
  const p = (d: string, f: string) => join(d, f);
  const goodFiles = {
    "ca-cert.pem": p(ca, "ca-cert.pem"),
    "ca-crl.pem": p(ca, "ca-crl.pem"),
    "client-cert.pem": p(ca, "client-cert.pem"),
    "client-key.pem": p(ca, "client-key.pem"),
    "server-cert.pem": p(ca, "server-cert.pem"),
    "server-key.pem": p(ca, "server-key.pem"),
  };
  return {
    root,
    good: layout(join(root, "good"), goodFiles),
    noCrl: layout(join(root, "nocrl"), { ...goodFiles, "ca-crl.pem": undefined as never }),
    revoked: layout(join(root, "revoked"), {
      ...goodFiles,
      "client-cert.pem": p(ca, "rclient-cert.pem"),
      "client-key.pem": p(ca, "rclient-key.pem"),
      "server-cert.pem": p(ca, "rserver-cert.pem"),
      "server-key.pem": p(ca, "rserver-key.pem"),
    }),
    foreign: layout(join(root, "foreign"), {
      "ca-cert.pem": p(ca, "ca-cert.pem"),
      "client-cert.pem": p(other, "client-cert.pem"),
      "client-key.pem": p(other, "client-key.pem"),
      "server-cert.pem": p(other, "server-cert.pem"),
      "server-key.pem": p(other, "server-key.pem"),
    }),
    wrongName: layout(join(root, "wrongname"), {
      ...goodFiles,
      "server-cert.pem": p(ca, "elsewhere-cert.pem"),
      "server-key.pem": p(ca, "elsewhere-key.pem"),
    }),
    encrypted: layout(join(root, "encrypted"), {
      ...goodFiles,
      "client-key.pem": p(ca, "client-key.enc.pem"),
      "server-key.pem": p(ca, "server-key.enc.pem"),
    }),
  };
}
