export async function resolve(specifier, context, next) {
  const found = /^hookhost:plugin\/([a-z-]+)@0\.2\.0$/.exec(specifier);
  if (found) return { url: new URL(`./${found[1]}.mjs`, import.meta.url).href, shortCircuit: true };
  return next(specifier, context);
}
