// Progressive enhancement for the built-in pages (they work without it): every
// <time datetime="…"> the server wrote in UTC is shown in the reader's own time zone, with
// the zone named; the UTC text stays as a tooltip.
const format = new Intl.DateTimeFormat(undefined, {
  year: 'numeric', month: 'short', day: 'numeric',
  hour: '2-digit', minute: '2-digit', timeZoneName: 'short',
});
for (const t of document.querySelectorAll('time[datetime]')) {
  const at = new Date(t.dateTime);
  if (!Number.isNaN(at.getTime())) {
    t.title = t.textContent;
    t.textContent = format.format(at);
  }
}
