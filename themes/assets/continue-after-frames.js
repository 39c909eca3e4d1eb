// The "signed out" page on its way back to an application: the applications' front-channel
// logout frames load first (the window's load event waits for every frame), then the browser
// continues to the link, or after five seconds whatever the frames do. Without script, the
// link is there to press.
(function () {
  'use strict';
  var link = document.querySelector('a[data-continue-after-frames]');
  if (!link) return;
  var gone = false;
  function go() {
    if (!gone) {
      gone = true;
      window.location.replace(link.href);
    }
  }
  if (document.readyState === 'complete') go();
  else window.addEventListener('load', go);
  setTimeout(go, 5000);
})();
