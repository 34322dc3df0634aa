// The dashboard's only script, a progressive enhancement: every form works without it.
// Served from /assets/ under a content-hashed URL; the CSP forbids inline script.
(() => {
  const slugify = (s) =>
    s
      .toLowerCase()
      .normalize('NFKD')
      .replace(/[\u0300-\u036f]/g, '')
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 63)
      .replace(/-+$/, '');

  const name = document.getElementById('project-name');
  const slug = document.getElementById('project-slug');
  const fly = document.getElementById('project-flyApp');
  if (name && slug) {
    let touched = slug.value !== '' && slug.value !== slugify(name.value);
    slug.addEventListener('input', () => {
      touched = slug.value !== '';
    });
    name.addEventListener('input', () => {
      if (touched) return;
      slug.value = slugify(name.value);
      if (fly) fly.placeholder = slug.value || 'same as the slug';
    });
    slug.addEventListener('input', () => {
      if (fly) fly.placeholder = slug.value || 'same as the slug';
    });
  }

  const rows = document.getElementById('secret-rows');
  const add = document.getElementById('add-row');
  const count = document.getElementById('row-count');
  if (rows && add && count) {
    add.addEventListener('click', (ev) => {
      ev.preventDefault();
      const last = rows.querySelector('.secret-row:last-of-type');
      if (!last) return;
      const i = Number(count.value);
      const row = last.cloneNode(true);
      for (const el of row.querySelectorAll('[id],[for],[name],[aria-describedby]')) {
        for (const a of ['id', 'for', 'name', 'aria-describedby']) {
          const v = el.getAttribute(a);
          if (v) el.setAttribute(a, v.replace(/_\d+(\b|$)/g, `_${i}`).replace(/-\d+(\b|$)/g, `-${i}`));
        }
      }
      for (const el of row.querySelectorAll('.field-error')) el.remove();
      for (const el of row.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
      for (const el of row.querySelectorAll('input, textarea')) el.value = '';
      const num = row.querySelector('.row-num');
      if (num) num.textContent = `Secret ${i + 1}`;
      rows.appendChild(row);
      count.value = String(i + 1);
      const first = row.querySelector('input');
      if (first) first.focus();
    });
  }

  for (const btn of document.querySelectorAll('[data-copy-target]')) {
    btn.hidden = false;
    btn.addEventListener('click', () => {
      const el = document.getElementById(btn.getAttribute('data-copy-target'));
      if (!el) return;
      const done = () => {
        const t = btn.textContent;
        btn.textContent = 'Copied';
        setTimeout(() => {
          btn.textContent = t;
        }, 1500);
      };
      const fallback = () => {
        el.select();
        document.execCommand('copy');
        done();
      };
      if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(el.value).then(done, fallback);
      else fallback();
    });
  }

  for (const el of document.querySelectorAll('[data-autosubmit]')) {
    el.addEventListener('change', () => {
      if (!el.form) return;
      if (el.form.requestSubmit) el.form.requestSubmit();
      else el.form.submit();
    });
  }

  // Close the account menu with Escape or a click elsewhere.
  const menu = document.querySelector('details.menu');
  if (menu) {
    document.addEventListener('click', (ev) => {
      if (menu.open && !menu.contains(ev.target)) menu.open = false;
    });
    document.addEventListener('keydown', (ev) => {
      if (ev.key === 'Escape' && menu.open) {
        menu.open = false;
        menu.querySelector('summary').focus();
      }
    });
  }
})();
