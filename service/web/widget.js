/*! Engagement widget: share buttons with counts and related news. No cookies, no storage,
   no request to any third party until the reader clicks a share button. */
(function () {
  'use strict';
  var CONFIG = /*CONFIG*/{};
  var d = document, w = window;
  var script = d.currentScript || d.querySelector('script[data-article-id]');
  if (!script || w.__engWidget) return;
  w.__engWidget = 1;

  // Used only when our API cannot be reached: the reader can still share the page itself.
  var INTENTS = {
    facebook: 'https://www.facebook.com/sharer/sharer.php?u={u}',
    x: 'https://x.com/intent/tweet?url={u}&text={t}',
    linkedin: 'https://www.linkedin.com/sharing/share-offsite/?url={u}',
    whatsapp: 'https://wa.me/?text={t}%20{u}',
    telegram: 'https://t.me/share/url?url={u}&text={t}',
    reddit: 'https://www.reddit.com/submit?url={u}&title={t}',
    bluesky: 'https://bsky.app/intent/compose?text={t}%20{u}',
    email: 'mailto:?subject={t}&body={u}'
  };
  // Shown strings by language (data-lang, else the page's lang, else English); {n} is a name or a number.
  var STR = {
    en: ['Let your friends know!', 'Related News', 'Share on {n}', 'Copy link', 'Share\u2026', '{n} share',
      '{n} shares', 'Link copied to the clipboard', 'Copy this link:', 'Share link', 'Email'],
    de: ['Sag es deinen Freunden!', 'Mehr zum Thema', 'Auf {n} teilen', 'Link kopieren', 'Teilen\u2026',
      '{n}-mal geteilt', '{n}-mal geteilt', 'Link in die Zwischenablage kopiert', 'Diesen Link kopieren:',
      'Link zum Teilen', 'E-Mail'],
    fr: ['Partagez avec vos amis\u00a0!', '\u00c0 lire aussi', 'Partager sur {n}', 'Copier le lien',
      'Partager\u2026', '{n}\u00a0partage', '{n}\u00a0partages', 'Lien copi\u00e9 dans le presse-papiers',
      'Copiez ce lien\u00a0:', 'Lien de partage', 'E-mail'],
    es: ['\u00a1Comp\u00e1rtelo con tus amigos!', 'Noticias relacionadas', 'Compartir en {n}', 'Copiar enlace',
      'Compartir\u2026', 'Compartido {n} vez', 'Compartido {n} veces', 'Enlace copiado al portapapeles',
      'Copia este enlace:', 'Enlace para compartir', 'Correo'],
    ar: [
      '\u0623\u062e\u0628\u0631 \u0623\u0635\u062f\u0642\u0627\u0621\u0643!',
      '\u0623\u062e\u0628\u0627\u0631 \u0630\u0627\u062a \u0635\u0644\u0629',
      '\u0634\u0627\u0631\u0643 \u0639\u0644\u0649 {n}',
      '\u0646\u0633\u062e \u0627\u0644\u0631\u0627\u0628\u0637', '\u0645\u0634\u0627\u0631\u0643\u0629\u2026',
      '\u0627\u0644\u0645\u0634\u0627\u0631\u0643\u0627\u062a: {n}',
      '\u0627\u0644\u0645\u0634\u0627\u0631\u0643\u0627\u062a: {n}',
      '\u062a\u0645 \u0646\u0633\u062e \u0627\u0644\u0631\u0627\u0628\u0637',
      '\u0627\u0646\u0633\u062e \u0647\u0630\u0627 \u0627\u0644\u0631\u0627\u0628\u0637:',
      '\u0631\u0627\u0628\u0637 \u0627\u0644\u0645\u0634\u0627\u0631\u0643\u0629',
      '\u0627\u0644\u0628\u0631\u064a\u062f \u0627\u0644\u0625\u0644\u0643\u062a\u0631\u0648\u0646\u064a']
  };
  // Sizes in px on a reset wrapper: what the host page sets on <html> or on our host element cannot leak in.
  // Colours follow the host (its painted background, else its color-scheme) unless --eng-* properties say.
  var CSS =
    ':host{display:block;padding:32px 0}*{box-sizing:border-box}' +
    '.w{all:initial;display:block;font:16px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,' +
    'sans-serif;color-scheme:light;--t:#161616;--mt:#595959;--ok:#146c2e;--ln:#d6d6d6;--bd:transparent;' +
    'color:var(--eng-text,var(--t));background:var(--eng-surface,transparent);text-align:start}' +
    '.dk{color-scheme:dark;--t:#f2f2f2;--mt:#b8b8b8;--ok:#8be0a4;--ln:#474747;--bd:#8c8c8c}' +
    'h2{margin:0;font-size:19px;line-height:1.25;font-weight:800}' +
    '.top{display:flex;flex-wrap:wrap;justify-content:space-between;align-items:baseline;gap:4px 16px;' +
    'padding-top:10px;margin-bottom:12px;border-top:3px solid var(--eng-accent,#b3001b)}' +
    '.total,.m{color:var(--eng-muted,var(--mt));font-size:14px}ul,ol{list-style:none;margin:0;padding:0}' +
    '.btns{display:flex;flex-wrap:wrap;gap:8px}' +
    'button{font:inherit;font-size:14px;font-weight:600;display:inline-flex;align-items:center;' +
    'justify-content:center;gap:8px;width:100%;min-height:44px;margin:0;padding:4px 16px;' +
    'border:2px solid var(--eng-button-border,var(--bd));border-radius:999px;color:#fff;background:var(--c);' +
    'cursor:pointer}.vh{font-size:0}button:hover .v{text-decoration:underline}' +
    'button[aria-busy=true]{cursor:progress}' +
    'button:focus-visible,a:focus-visible{outline:3px solid var(--eng-focus,var(--eng-text,var(--t)));' +
    'outline-offset:2px}' +
    '.c{min-width:22px;padding:0 7px;border-radius:999px;background:rgba(0,0,0,.3);font-size:12px;' +
    'line-height:20px;text-align:center}.c:empty{display:none}' +
    '.st{min-height:20px;margin:10px 0 0;font-size:14px;color:var(--ok);font-weight:600}' +
    '.st input{display:block;width:100%;font:inherit;padding:5px;margin-top:5px}' +
    '.rel li{padding:12px 0;border-bottom:1px solid var(--ln)}.rel li:last-child{border:0}' +
    '.rel a{color:inherit;text-decoration:none;font-weight:700;font-size:17px;line-height:1.3}' +
    '.rel a:hover{text-decoration:underline}.m{display:block;margin-top:4px;font-size:13px}' +
    '@media (max-width:520px){.btns{display:grid;grid-template-columns:repeat(2,minmax(0,1fr))}}' +
    '@media (forced-colors:active){button{border-color:ButtonText}.c{border:1px solid}}';
  var COLORS = {
    facebook: '#1567d3', x: '#0f1419', linkedin: '#0a66c2', whatsapp: '#0f7b45', telegram: '#1d6fa5',
    reddit: '#c63d00', bluesky: '#0a63c9', email: '#4a4a4a', copy: '#4a4a4a', native: '#4a4a4a'
  };

  function opt(name, fallback) {
    var v = script.getAttribute('data-' + name);
    return v == null || v === '' ? (CONFIG[name.replace(/-(.)/g, function (m, c) { return c.toUpperCase(); })] ||
      fallback) : v;
  }

  var pageLang = d.documentElement.lang || '';
  var lang = [opt('lang', ''), pageLang].map(function (l) { return String(l).toLowerCase().split('-')[0]; })
    .filter(function (l) { return STR[l]; })[0] || 'en';
  var S = STR[lang];
  var NAMES = {
    facebook: 'Facebook', x: 'X', linkedin: 'LinkedIn', whatsapp: 'WhatsApp', telegram: 'Telegram',
    reddit: 'Reddit', bluesky: 'Bluesky', email: S[10], copy: S[3], native: S[4]
  };
  var articleId = script.getAttribute('data-article-id') || '';
  var api = (opt('api', '') || new URL('.', script.src || location.href).href).replace(/\/+$/, '');
  var path = api + '/v1/articles/' + encodeURIComponent(articleId);
  var fmt = w.Intl && Intl.NumberFormat ? new Intl.NumberFormat(lang, {notation: 'compact'}) : null;
  var plural = w.Intl && Intl.PluralRules ? new Intl.PluralRules(lang) : null;
  var sheet = null, shown = [];

  function t(i, n) { return S[i].replace('{n}', n); }

  function shares(c, text) {
    return t((plural ? plural.select(c) === 'one' : c === 1) ? 5 : 6, text);
  }

  // Catalog text (titles, tags, custom headings) is in the page's language, not in ours.
  function content(e) {
    if (pageLang && pageLang.toLowerCase().split('-')[0] !== lang) e.setAttribute('lang', pageLang);
    return e;
  }

  function heading(name, i, id) {
    var v = opt(name, '');
    var h = el('h2', {id: id}, v && v !== STR.en[i] ? v : S[i]);
    return v && v !== STR.en[i] ? content(h) : h;
  }

  function section(cls, labelledBy) {
    var sec = el('section', {'class': 'w ' + cls, 'aria-labelledby': labelledBy, lang: lang});
    if (lang === 'ar') sec.setAttribute('dir', 'rtl');
    shown.push(sec);
    return sec;
  }

  function lum(m) {
    for (var i = 1, s = 0; i < 4; i++) {
      var c = m[i] / 255;
      s += [0, .2126, .7152, .0722][i] * (c <= .04045 ? c / 12.92 : Math.pow((c + .055) / 1.055, 2.4));
    }
    return s;
  }

  // Dark if the first painted background behind us is dark; with none, what the page's color-scheme says.
  function dark(node) {
    for (var e = node; e; e = e.parentNode || e.host) {
      if (e.nodeType !== 1) continue;
      var m = getComputedStyle(e).backgroundColor.match(/^rgba?\(([\d.]+), ([\d.]+), ([\d.]+)(?:, ([\d.]+))?\)$/);
      if (m && !(m[4] < .5)) return lum(m) < .18;
    }
    var cs = getComputedStyle(node.getRootNode().host).colorScheme;
    var prefersDark = !!w.matchMedia && matchMedia('(prefers-color-scheme: dark)').matches;
    return /dark/.test(cs) && (!/light/.test(cs) || prefersDark);
  }

  function paint() {
    shown.forEach(function (s) { s.classList.toggle('dk', dark(s)); });
  }

  function el(tag, attrs, text) {
    var e = d.createElement(tag);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (text != null) e.textContent = text;
    return e;
  }

  function rid() {
    var a = new Uint8Array(16);
    crypto.getRandomValues(a);
    return Array.prototype.map.call(a, function (b) { return (b + 256).toString(16).slice(1); }).join('');
  }

  function call(url, body, tries) {
    var init = {credentials: 'omit'};
    if (body) { init.method = 'POST'; init.body = JSON.stringify(body); } // text/plain: no CORS preflight
    return fetch(url, init).then(function (r) {
      if (r.status >= 500 && tries) return again();
      if (!r.ok) throw new Error('HTTP ' + r.status);
      return r.json();
    }, function (e) { if (tries) return again(); throw e; });
    // A 5xx or a lost answer leaves the outcome unknown: the same body (the same event id) again is counted
    // at most once.
    function again() {
      return new Promise(function (ok) { setTimeout(ok, 1000); }).then(function () { return call(url, body, tries - 1); });
    }
  }

  function mount(node) {
    var host = el('eng-widget', {});
    node.replaceChildren(host);
    var root = host.attachShadow({mode: 'open'});
    try {
      if (!sheet) { sheet = new CSSStyleSheet(); sheet.replaceSync(CSS); }
      root.adoptedStyleSheets = [sheet];
    } catch (e) {
      root.appendChild(el('style', {}, CSS)); // older browsers; needs style-src to allow it
    }
    return root;
  }

  function count(n) { return n > 0 ? (fmt ? fmt.format(n) : String(n)) : ''; }

  function shareBar(node) {
    var nets = opt('networks', 'facebook,x,linkedin,whatsapp,telegram,reddit,bluesky,email,copy,native');
    nets = (typeof nets === 'string' ? nets.split(',') : nets).map(function (s) { return s.trim(); })
      .filter(function (n) { return NAMES[n] && (n !== 'native' || typeof navigator.share === 'function'); });
    var root = mount(node);
    var sec = section('bar', 'eng-h');
    var top = el('div', {'class': 'top'});
    var total = el('span', {'class': 'total'});
    var list = el('ul', {'class': 'btns'});
    var status = el('p', {'class': 'st', role: 'status'});
    var counts = {total: 0}, buttons = {};
    top.append(heading('share-heading', 0, 'eng-h'), total);
    nets.forEach(function (n) {
      var b = el('button', {type: 'button', 'data-network': n}), li = el('li', {});
      b.style.setProperty('--c', COLORS[n]); // CSSOM, not a style attribute: allowed under a strict CSP
      // The name comes from the content, around the visible label (WCAG 2.5.3): "Share on X, 3 shares";
      // the unseen words are inline (font-size 0) so that no space is read into the name.
      var around = n === 'copy' || n === 'native' ? ['', ''] : S[2].split('{n}');
      var label = el('span', {'class': 'l'});
      label.append(el('span', {'class': 'vh'}, around[0]), el('span', {'class': 'v'}, NAMES[n]),
        el('span', {'class': 'vh'}, around[1]), el('span', {'class': 'vh'}));
      b.append(label, el('span', {'class': 'c', 'aria-hidden': 'true'}));
      b.addEventListener('click', function () { share(n, b); });
      buttons[n] = b;
      li.append(b);
      list.append(li);
    });
    sec.append(top, list, status);
    root.append(sec);
    paint();
    render();
    call(path + '/stats').then(function (s) {
      counts = s.shares.by_network;
      counts.total = s.shares.total;
      render();
      total.setAttribute('aria-live', 'polite'); // announce changes from now on, not the first count
    }).catch(function () {});

    function render() {
      var all = counts.total || 0;
      total.textContent = all ? shares(all, count(all)) : '';
      nets.forEach(function (n) {
        var c = counts[n] || 0, b = buttons[n];
        b.lastChild.textContent = count(c);
        b.firstChild.lastChild.textContent = c ? ', ' + shares(c, String(c)) : '';
      });
    }

    function say(text) { status.textContent = text; }

    function share(n, b) {
      if (b.getAttribute('aria-busy') === 'true') return;
      b.setAttribute('aria-busy', 'true');
      say('');
      var post = call(path + '/shares', {network: n, event_id: rid()}, 2).then(function (r) {
        if (r.counted) { counts[n] = (counts[n] || 0) + 1; counts.total = (counts.total || 0) + 1; render(); }
        return r;
      });
      // The reader's click only lets us open a window for a few seconds: never wait long for our API.
      var late = new Promise(function (ok) { setTimeout(ok, 2000, null); });
      Promise.race([post.catch(function () { return null; }), late]).then(function (r) {
        var url = r ? r.share_url : pageUrl();
        if (n === 'copy') return copy(url);
        if (n === 'native') return navigator.share({title: d.title, url: url}).catch(function () {});
        w.open(r && r.intent_url || intent(n, url), '_blank', 'noopener,noreferrer');
      }).then(function () { b.removeAttribute('aria-busy'); });
    }

    function copy(url) {
      return navigator.clipboard.writeText(url).then(function () {
        say(S[7]);
      }, function () {
        say(S[8] + ' ');
        var input = el('input', {type: 'text', readonly: '', 'aria-label': S[9], value: url});
        status.append(input);
        input.select();
      });
    }
  }

  function pageUrl() {
    var c = d.querySelector('link[rel=canonical]');
    return c && c.href || location.href.split('#')[0];
  }

  function intent(n, url) {
    return INTENTS[n].replace('{u}', encodeURIComponent(url)).replace('{t}', encodeURIComponent(d.title));
  }

  function ago(iso) {
    var s = (Date.parse(iso) - Date.now()) / 1000;
    if (!(s === s) || !w.Intl || !Intl.RelativeTimeFormat) return '';
    var units = [[60, 'second'], [60, 'minute'], [24, 'hour'], [7, 'day'], [4.35, 'week'], [12, 'month']];
    for (var i = 0; i < units.length && Math.abs(s) >= units[i][0]; i++) s /= units[i][0];
    return new Intl.RelativeTimeFormat(pageLang || lang, {numeric: 'auto'})
      .format(Math.round(s), i < units.length ? units[i][1] : 'year');
  }

  function safeHref(url) {
    try {
      var u = new URL(url, location.href);
      return u.protocol === 'https:' || u.protocol === 'http:' ? u.href : null;
    } catch (e) { return null; }
  }

  function related(node) {
    var limit = parseInt(opt('related-limit', '8'), 10) || 8;
    call(path + '/related?limit=' + limit).then(function (r) {
      var items = (r.related || []).filter(function (a) { return a && a.title && safeHref(a.url); });
      if (!items.length) return;
      var root = mount(node);
      var sec = section('rel', 'eng-rh');
      var list = el('ol', {});
      items.forEach(function (a, i) {
        var li = el('li', {}), link = el('a', {href: safeHref(a.url)}, a.title);
        link.addEventListener('click', function () { // sendBeacon outlives the navigation it precedes
          beacon('/related/clicks', {target: a.article_id, position: i + 1});
        });
        content(li).append(link);
        var meta = [(a.shared_tags || []).slice(0, 2).join(' \u00b7 '), ago(a.published_at)]
          .filter(Boolean).join(' \u2014 ');
        if (meta) li.append(el('span', {'class': 'm'}, meta));
        list.append(li);
      });
      sec.append(heading('related-heading', 1, 'eng-rh'), list);
      root.append(sec);
      paint();
      beacon('/related/impressions', {});
    }).catch(function () {});
  }

  function beacon(to, extra) { // a view, a shown related list, a click on one of its items
    var data = {event_id: rid()}, k;
    for (k in extra) data[k] = extra[k];
    var body = JSON.stringify(data), url = path + to;
    var sent = false;
    try { sent = navigator.sendBeacon && navigator.sendBeacon(url, body); } catch (e) { sent = false; }
    if (!sent) send(2);
    function send(tries) { // retried with the same body, so the same event id: counted at most once
      fetch(url, {method: 'POST', body: body, keepalive: true, credentials: 'omit'}).then(function (r) {
        if (r.status >= 500 && tries) later();
      }, function () { if (tries) later(); });
      function later() { setTimeout(send, 1000, tries - 1); }
    }
  }

  function refOrigin() {
    try { return d.referrer ? new URL(d.referrer).origin : undefined; } catch (e) { return undefined; }
  }

  function start() {
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(articleId)) return;
    var bar = d.querySelector('[data-eng-share]'), rel = d.querySelector('[data-eng-related]');
    if (bar) shareBar(bar);
    if (rel) related(rel);
    w.addEventListener('load', paint);
    try { matchMedia('(prefers-color-scheme: dark)').addEventListener('change', paint); } catch (e) { /* old */ }
    beacon('/views', {referrer: refOrigin()});
  }

  if (d.readyState === 'loading') d.addEventListener('DOMContentLoaded', start);
  else start();
})();
