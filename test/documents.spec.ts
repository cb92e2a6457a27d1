import { describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

/**
 * The repository's Markdown documents: every link stays inside the repository or goes to a
 * public URL, and docs/PROTOCOL.md's numbered sections run in order with every reference to
 * one of them (§8.13, "PROTOCOL.md 1.8") naming a section that exists.
 */

const ROOT = resolve('.');
const markdownFiles = execFileSync('git', ['ls-files', '*.md'], { cwd: ROOT, encoding: 'utf8' }).split('\n').filter(Boolean);

interface Link {
  file: string;
  line: number;
  target: string;
}

/** Inline links `[text](target)`, autolinks `<https://…>` and reference definitions `[x]: target`, outside code. */
function linksOf(file: string): Link[] {
  const links: Link[] = [];
  let inFence = false;
  readFileSync(join(ROOT, file), 'utf8')
    .split('\n')
    .forEach((text, index) => {
      if (/^\s*```/.test(text)) inFence = !inFence;
      if (inFence) return;
      const prose = text.replace(/`[^`]*`/g, '');
      const found = [
        ...[...prose.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((match) => match[1]),
        ...[...prose.matchAll(/<((?:https?|file|ftp):[^>\s]+)>/g)].map((match) => match[1]),
        ...[...prose.matchAll(/^\s*\[[^\]]+\]:\s*(\S+)/g)].map((match) => match[1]),
      ];
      for (const target of found) links.push({ file, line: index + 1, target });
    });
  return links;
}

const allLinks = markdownFiles.flatMap(linksOf);
const where = (link: Link) => `${link.file}:${link.line} → ${link.target}`;

/** Hosts that only exist on the machine that reads the document. */
const LOCAL_HOSTS = /^(localhost|127\.\d+\.\d+\.\d+|0\.0\.0\.0|\[::1\])$/;
/** Paths that name one machine's file system rather than the repository. */
const MACHINE_PATH = /^(\/(home|root|work|tmp|Users|var|etc|opt|mnt)\/|[A-Za-z]:[\\/]|~\/|file:)/;

describe('Markdown documents', () => {
  it('are found', () => {
    expect(markdownFiles).toEqual(expect.arrayContaining(['README.md', 'docs/PROTOCOL.md', 'clients/python/README.md', 'clients/js/README.md']));
    expect(allLinks.length).toBeGreaterThan(20);
  });

  it('link only to files in the repository, or to public http(s) URLs', () => {
    const wrong: string[] = [];
    for (const link of allLinks) {
      const { target } = link;
      if (target.startsWith('#')) continue;
      if (/^[a-z][a-z0-9+.-]*:/i.test(target) && !/^[A-Za-z]:[\\/]/.test(target)) {
        const url = URL.canParse(target) ? new URL(target) : undefined;
        // The walk-through's own service is the one exception: localhost:8765 is the reader's.
        const isWalkThrough = url?.protocol === 'http:' && url.hostname === 'localhost' && url.port === '8765';
        if (!url || !['http:', 'https:', 'mailto:'].includes(url.protocol)) wrong.push(`${where(link)}: not a public URL`);
        else if (LOCAL_HOSTS.test(url.hostname) && !isWalkThrough) wrong.push(`${where(link)}: a local address`);
        continue;
      }
      if (MACHINE_PATH.test(target)) {
        wrong.push(`${where(link)}: a path on one machine`);
        continue;
      }
      const path = decodeURIComponent(target.split('#')[0].split('?')[0]);
      const resolved = resolve(ROOT, dirname(link.file), path);
      const inside = relative(ROOT, resolved);
      if (inside.startsWith('..')) wrong.push(`${where(link)}: outside the repository`);
      else if (!existsSync(resolved)) wrong.push(`${where(link)}: no such file`);
      else if (!statSync(resolved).isDirectory() && !isTracked(inside)) wrong.push(`${where(link)}: not in git`);
    }
    expect(wrong).toEqual([]);
  });

  it('name no file outside the repository in their text either', () => {
    const wrong: string[] = [];
    for (const file of markdownFiles) {
      readFileSync(join(ROOT, file), 'utf8')
        .split('\n')
        .forEach((text, index) => {
          // A `../` path must name a file of the repository, read from the document's folder.
          for (const match of text.matchAll(/(?:^|[\s`("'])((?:\.\.\/){1,}[^\s`)"']+)/g)) {
            const target = resolve(ROOT, dirname(file), match[1].split('#')[0].replace(/[.,;:]+$/, ''));
            if (relative(ROOT, target).startsWith('..') || !existsSync(target)) wrong.push(`${file}:${index + 1} → ${match[1]}`);
          }
          for (const match of text.matchAll(/(?:^|[\s`("'])((?:\/home|\/root|\/work|\/Users)\/[^\s`)"']*)/g)) {
            wrong.push(`${file}:${index + 1} → ${match[1]}`);
          }
        });
    }
    expect(wrong).toEqual([]);
  });
});

const trackedFiles = new Set(execFileSync('git', ['ls-files'], { cwd: ROOT, encoding: 'utf8' }).split('\n'));
function isTracked(path: string): boolean {
  return trackedFiles.has(path);
}

describe('docs/PROTOCOL.md sections', () => {
  const protocol = readFileSync(join(ROOT, 'docs/PROTOCOL.md'), 'utf8');
  const numbered = [...protocol.matchAll(/^#{2,3} (\d+)(?:\.(\d+))?\.? /gm)].map((match) => ({
    heading: match[0].trim(),
    major: Number(match[1]),
    minor: match[2] === undefined ? undefined : Number(match[2]),
  }));
  const sections = new Set(numbered.map(({ major, minor }) => (minor === undefined ? `${major}` : `${major}.${minor}`)));

  it('are numbered in order', () => {
    const outOfOrder: string[] = [];
    let major = 0;
    let minor = 0;
    for (const section of numbered) {
      if (section.minor === undefined) {
        if (section.major !== major + 1) outOfOrder.push(`${section.heading} follows section ${major}`);
        major = section.major;
        minor = 0;
        continue;
      }
      if (section.major !== major) outOfOrder.push(`${section.heading} sits in section ${major}`);
      // Section 4 numbers only its last subsection: the frames before it go by their names.
      else if (minor !== 0 && section.minor !== minor + 1) outOfOrder.push(`${section.heading} follows ${major}.${minor}`);
      minor = section.minor;
    }
    expect(numbered.length).toBeGreaterThan(25);
    expect(outOfOrder).toEqual([]);
  });

  it('are cited by numbers that exist, in every document, comment and test', () => {
    const files = execFileSync('git', ['ls-files', '*.md', '*.ts', '*.js', '*.mjs', '*.py', '*.yaml', '*.json'], { cwd: ROOT, encoding: 'utf8' })
      .split('\n')
      .filter((file) => file && !file.endsWith('package-lock.json'));
    const wrong: string[] = [];
    let citations = 0;
    for (const file of files) {
      const text = readFileSync(join(ROOT, file), 'utf8');
      const patterns =
        file === 'docs/PROTOCOL.md'
          ? [/§ ?(\d+(?:\.\d+)?)/g]
          : [/PROTOCOL(?:\.md)?\)? ?(?:§ ?|section )(\d+(?:\.\d+)?)/g, /PROTOCOL\.md (\d+\.\d+)/g];
      for (const pattern of patterns) {
        for (const match of text.matchAll(pattern)) {
          citations++;
          if (!sections.has(match[1])) wrong.push(`${file}: ${match[0]}`);
        }
      }
    }
    expect(citations).toBeGreaterThan(20);
    expect(wrong).toEqual([]);
  });
});
