/** Every reason the certificates check emits: the one source of its section in docs/reasons.md (npm run docs). */
import { defineReasons } from "../../types.js";

export const REASONS = defineReasons({
  check: "certificates",
  intro:
    "Condition `KubeletCertificateInvalid`. Judges the certificates kubelet\nactually uses, found the way kubelet finds them: its flags override its\nKubeletConfiguration; the kubeconfig (`--kubeconfig`, else\n`/etc/kubernetes/kubelet.conf` or `/var/lib/kubelet/kubeconfig`) names the\nclient certificate and key (`client-certificate`/`client-key` or their\n`-data`, paths relative to the kubeconfig) and the cluster CA\n(`certificate-authority` or `-data`); without them, kubelet's defaults under\nits cert dir (`--cert-dir`, default `/var/lib/kubelet/pki`):\n`kubelet-client-current.pem` (certificate and key in one file, a symlink to\n`kubelet-client-<time>.pem`), and for serving `--tls-cert-file`/`tlsCertFile`,\n`kubelet-server-current.pem` with `serverTLSBootstrap`, or the self-signed\n`kubelet.crt`/`kubelet.key`.\n\nTimes are compared with the trusted time: the local clock corrected by the\nclock check's offset from the API server or NTP when that is fresh. When\nonly the local clock is available the message says so.\n\nThe Client, Serving and ClusterCA reasons share one set of tests. When a\nrotating `kubelet-client-current.pem` (or `kubelet-server-current.pem`) is\nbad, the remedy lists the rotated certificates beside it and names the\nnewest one that is valid now, issued by the cluster CA and matching its key:\n`ln -sf <that file> <current> && systemctl restart kubelet`. When none is,\nit says how to re-bootstrap (bootstrap kubeconfig, CSR approval).",
  reasons: {
    ClientCertificateNotYetValid: {
      severities: ["critical"],
      meaning:
        "the client certificate's NotBefore lies after the trusted time; the API server rejects it and kubelet logs `Unauthorized` ([the certificate from the future](incidents.md#the-certificate-from-the-future): kubelet rotated while the node's clock was wrong). The message gives NotBefore, the trusted time and where that time came from.",
      remedy:
        "point the symlink back at the older valid certificate the remedy names, and restart kubelet; make sure time sync runs (`timedatectl set-ntp true`).",
      repair: "repoint-client-cert",
    },
    ClientCertificateExpired: {
      severities: ["critical"],
      meaning: "the client certificate's NotAfter has passed; the API server rejects kubelet.",
      remedy:
        "the newest valid rotated certificate (named), or re-bootstrap: a valid token in the bootstrap kubeconfig, move the current certificate aside, restart kubelet, `kubectl certificate approve` its CSR.",
      repair: "repoint-client-cert",
    },
    ClientCertificateExpiresSoon: {
      severities: ["warning", "critical"],
      severity:
        "warning within `checks.certificates.warningDays` (default 30) of NotAfter, critical within `criticalDays` (default 7). With rotation off (`rotateCertificates`/`--rotate-certificates`) nothing renews it, so it is critical within the warning window already.",
      meaning: "kubelet renews at 70–90% of a certificate's lifetime; one this close to expiry means rotation is off or stalls (CSRs not approved).",
      remedy: "`journalctl -u kubelet | grep -i certificate`, `kubectl get csr`; or turn rotation on.",
      repair: "none",
    },
    ClientCertificateMissing: {
      severities: ["warning", "critical"],
      severity:
        "critical when the file cannot be read (does not exist, a dangling symlink, a directory, a symlink loop, permission denied); warning when `kubelet-client-current.pem` links outside the cert dir (kubelet only ever links within it, so somebody made it by hand).",
      meaning: "the message names the path, where it was configured and the problem.",
      remedy: "the valid rotated certificate the remedy names, or re-bootstrap.",
      repair: "repoint-client-cert",
    },
    ClientCertificateMalformed: {
      severities: ["critical"],
      meaning:
        "the file is read but is no usable PEM certificate: empty, truncated (a BEGIN without its END), garbage in the base64, DER where PEM belongs, or base64 that is no X.509 certificate. The message names the path, the block and the line.",
      remedy: "as ClientCertificateMissing.",
      repair: "repoint-client-cert",
    },
    ClientCertificateWrongIssuer: {
      severities: ["critical"],
      meaning:
        "the certificate's signature does not verify with the cluster CA from kubelet's kubeconfig (checked with the CA's public key, not by comparing names: a CA re-created with the same name does not pass).",
      remedy: "the valid rotated certificate the remedy names, or re-bootstrap against the right cluster.",
      repair: "repoint-client-cert",
    },
    ClientCertificateKeyMismatch: {
      severities: ["critical"],
      meaning:
        "the private key beside the certificate (in the same file, or `client-key`) does not belong to it, is missing or unreadable. Keys are read only for this comparison and never logged or exported.",
      remedy: "as ClientCertificateWrongIssuer.",
      repair: "repoint-client-cert",
    },
    ClientCertificateWrongIdentity: {
      severities: ["critical"],
      meaning:
        "the subject is not `CN=system:node:<node name>, O=system:nodes`, so the Node authorizer will not treat kubelet as this node. The full name is compared when the API server (or `--hostname-override`) gives the node name; otherwise only the form.",
      remedy: "issue a certificate for this node, or re-bootstrap.",
      repair: "none",
    },
    ServingCertificateNotYetValid: {
      severities: ["critical"],
      meaning: "as ClientCertificateNotYetValid, for kubelet's serving certificate (what `kubectl logs/exec` and metrics-server connect to).",
      remedy:
        "with `serverTLSBootstrap`, the newest valid `kubelet-server-*.pem`; for the self-signed pair, `rm kubelet.crt kubelet.key && systemctl restart kubelet`.",
      repair: "none",
    },
    ServingCertificateExpired: {
      severities: ["critical"],
      meaning: "the serving certificate's NotAfter has passed.",
      remedy: "as ServingCertificateNotYetValid.",
      repair: "none",
    },
    ServingCertificateExpiresSoon: {
      severities: ["warning", "critical"],
      severity:
        "as ClientCertificateExpiresSoon; the self-signed `kubelet.crt` kubelet writes when no serving certificate is configured is valid for a year and nothing renews it ([the refused flags](incidents.md#the-refused-flags)), so it is critical within the warning window.",
      meaning: "the serving certificate expires within the window.",
      remedy: "`rm kubelet.crt kubelet.key && systemctl restart kubelet` for the self-signed pair; better, `serverTLSBootstrap: true`.",
      repair: "none",
    },
    ServingCertificateMissing: {
      severities: ["warning", "critical"],
      severity:
        "critical when configured (`--tls-cert-file`, `serverTLSBootstrap`); warning for the self-signed default, which kubelet writes again at its next start.",
      meaning: "the serving certificate cannot be read; the message says why.",
      remedy: "restore the configured file, or restart kubelet to write the self-signed pair.",
      repair: "none",
    },
    ServingCertificateMalformed: {
      severities: ["critical"],
      meaning: "as ClientCertificateMalformed, for the serving certificate.",
      remedy: "re-issue or restore it.",
      repair: "none",
    },
    ServingCertificateWrongIssuer: {
      severities: ["warning"],
      severity: "warning (the kubelet-serving signer may use another CA than the client one).",
      meaning: "with `serverTLSBootstrap`, the serving certificate does not verify with the cluster CA in kubelet's kubeconfig.",
      remedy: "check which CA signs `kubernetes.io/kubelet-serving` CSRs; re-issue.",
      repair: "none",
    },
    ServingCertificateKeyMismatch: {
      severities: ["critical"],
      meaning: "`--tls-private-key-file` (or the key in the combined file) does not belong to the serving certificate, or is missing.",
      remedy: "put the matching pair in place, then restart kubelet.",
      repair: "none",
    },
    ServingCertificateWrongIdentity: {
      severities: ["warning"],
      meaning: "with `serverTLSBootstrap`, the serving certificate's subject is not `CN=system:node:<node name>, O=system:nodes`.",
      remedy: "delete it and approve a fresh serving CSR.",
      repair: "none",
    },
    ClusterCACertificateNotYetValid: {
      severities: ["critical"],
      meaning: "the cluster CA in kubelet's kubeconfig is not valid yet at the trusted time; kubelet cannot verify the API server.",
      remedy: "fix the clock; then see ClusterCACertificateExpired.",
      repair: "none",
    },
    ClusterCACertificateExpired: {
      severities: ["critical"],
      meaning: "the cluster CA has expired; every certificate it signed stops working with it.",
      remedy: "Kubernetes' manual CA rotation, then the new CA into every kubelet's kubeconfig.",
      repair: "none",
    },
    ClusterCACertificateExpiresSoon: {
      severities: ["warning", "critical"],
      severity: "warning within `warningDays`, critical within `criticalDays`.",
      meaning: "the cluster CA expires soon (nothing on the node renews it).",
      remedy: "plan the CA rotation now.",
      repair: "none",
    },
    ClusterCACertificateMissing: {
      severities: ["critical"],
      meaning: "the `certificate-authority` file the kubeconfig names cannot be read.",
      remedy: "restore it (`/etc/kubernetes/pki/ca.crt` on a control-plane node).",
      repair: "none",
    },
    ClusterCACertificateMalformed: {
      severities: ["critical"],
      meaning: "the CA file or `certificate-authority-data` is no usable PEM certificate.",
      remedy: "as ClusterCACertificateMissing.",
      repair: "none",
    },
    KubeletKubeconfigInvalid: {
      severities: ["critical"],
      meaning:
        "kubelet's kubeconfig cannot be used: unreadable, invalid YAML, wrong shape (the message names the key, e.g. `users[0].user.client-certificate: expected a string`), a `current-context` that names nothing, `-data` that is not base64.",
      remedy: "fix the named key; a missing kubeconfig is recreated from the bootstrap kubeconfig when kubelet restarts.",
      repair: "none",
    },
    CertificateValid: {
      severities: ["ok"],
      meaning:
        "the certificate is valid at the trusted time (and issued by the CA, matching its key, with the node's identity where those apply); the message gives its validity and the time left.",
      repair: "none",
    },
  },
});
