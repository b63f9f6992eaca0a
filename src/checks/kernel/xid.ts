/**
 * NVIDIA Xid codes by what NVIDIA says to do about them: the "Resolution
 * Bucket (Immediate Action)" column of NVIDIA's Xid catalogue
 * (https://docs.nvidia.com/deploy/xid-errors/analyzing-xid-catalog.html,
 * Ampere and newer; the Volta-and-older table agrees on the codes below).
 *
 * - reboot: RESTART_BM — the node must be rebooted (the GPU is gone from the bus);
 * - reset: RESET_GPU — drain the GPU's pods and `nvidia-smi -r`, or reboot;
 * - application: RESTART_APP or IGNORE — the application's own fault
 *   (a bad kernel, an illegal address) or a follow-on report of one.
 * Any code not listed is reported as a warning quoting the code, so a new
 * driver's Xid is never silent.
 */
export type XidAction = "reboot" | "reset" | "application";

export const XID_ACTIONS: Readonly<Record<number, XidAction>> = {
  // RESTART_APP / IGNORE
  8: "application", // GPU stopped processing (FIFO idle timeout)
  13: "application", // Graphics Engine Exception
  31: "application", // GPU memory page fault
  32: "application", // Invalid or corrupted push buffer stream
  43: "application", // GPU stopped processing (reset channel verification error)
  45: "application", // Preemptive cleanup, due to previous errors
  68: "application", // NVDEC0 exception
  69: "application", // Graphics Engine class error
  94: "application", // Contained ECC error: only the application that touched the row is affected
  109: "application", // Context switch timeout
  // RESET_GPU
  48: "reset", // Double bit ECC error
  61: "reset", // Internal micro-controller breakpoint/warning
  62: "reset", // Internal micro-controller halt
  63: "reset", // ECC page retirement or row remapping recorded: takes effect at the next GPU reset
  64: "reset", // ECC page retirement or row remapper recording failure
  74: "reset", // NVLink error
  92: "reset", // High single-bit ECC error rate
  95: "reset", // Uncontained ECC error
  119: "reset", // GSP RPC timeout
  120: "reset", // GSP error
  136: "reset", // Link training failed
  140: "reset", // Unrecovered ECC error
  // RESTART_BM
  79: "reboot", // GPU has fallen off the bus
};

export function xidCodes(action: XidAction): number[] {
  return Object.entries(XID_ACTIONS)
    .filter(([, a]) => a === action)
    .map(([code]) => Number(code))
    .sort((a, b) => a - b);
}

/** The Xid line's head as NVIDIA's drivers print it: `NVRM: Xid (PCI:0000:3b:00): 79, pid=…` (older drivers omit `PCI:`). */
export function xidPattern(codes: readonly number[] | "any"): RegExp {
  const code = codes === "any" ? "\\d+" : `(?:${codes.join("|")})`;
  return new RegExp(`NVRM: Xid \\((?:PCI:)?(?<pci>[0-9a-fA-F:.]+)\\): (?<xid>${code})\\b,?\\s*(?<detail>.*)`);
}
