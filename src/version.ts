/** The release version, set by the build (scripts/build.mjs); "dev" when run from source. */
export const VERSION = process.env["NODE_DOCTOR_VERSION"] ?? "dev";
