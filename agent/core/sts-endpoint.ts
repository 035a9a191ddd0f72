// Where a probe for a region goes. `--sts-endpoint` may name the region with `{region}`
// (`https://sts.{region}.amazonaws.com`, a VPC endpoint pattern, an emulator's
// `http://127.0.0.1:8080/{region}`), so each pod is probed where its own SDK would send it; without
// the placeholder every region goes to the one endpoint, and without the flag the SDK's regional one.

export const REGION_PLACEHOLDER = '{region}';

/** The endpoint for `region`, or undefined for the SDK's own regional endpoint. */
export function stsEndpointFor(template: string | undefined, region: string): string | undefined {
  return template ? template.replaceAll(REGION_PLACEHOLDER, region) : undefined;
}

/** Why `template` is not a usable --sts-endpoint, or undefined when it is. */
export function stsEndpointProblem(template: string): string | undefined {
  const other = /\{(?!region\})[^}]*\}?/.exec(template);
  if (other) return `--sts-endpoint "${template}" has ${other[0]}: the only placeholder is ${REGION_PLACEHOLDER}`;
  return endpointProblem('--sts-endpoint', template, stsEndpointFor(template, 'us-east-1') ?? '');
}

/** Why `value` of `flag` (as `url`, with any placeholder filled) is not a usable AWS endpoint, or undefined. */
export function endpointProblem(flag: string, value: string, url = value): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return `${flag} "${value}" must be an http(s) URL`;
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return `${flag} "${value}" must be an http(s) URL`;
  if (parsed.search !== '' || parsed.hash !== '') return `${flag} "${value}" must not have a query or fragment`;
  return undefined;
}
