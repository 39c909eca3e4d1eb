// The check_session_iframe (OpenID Connect Session Management 1.0). A relying party's frame
// posts "<client_id> <session_state>"; this answers "unchanged" when the session_state still
// matches this browser's session, "changed" when it does not, "error" for a malformed message.
// session_state = base64url(SHA-256(client_id + " " + origin + " " + browser_state + " " + salt)) + "." + salt
(function () {
  'use strict';
  function browserState() {
    var pairs = document.cookie ? document.cookie.split(';') : [];
    for (var i = 0; i < pairs.length; i++) {
      var pair = pairs[i].trim();
      if (pair.indexOf('poort_bs=') === 0) return pair.substring('poort_bs='.length);
    }
    return '';
  }
  function base64url(buffer) {
    var bytes = new Uint8Array(buffer), text = '';
    for (var i = 0; i < bytes.length; i++) text += String.fromCharCode(bytes[i]);
    return btoa(text).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }
  window.addEventListener('message', function (event) {
    if (event.origin === 'null' || !event.source) return;
    var reply = function (answer) { event.source.postMessage(answer, event.origin); };
    var data = typeof event.data === 'string' ? event.data : '';
    var space = data.lastIndexOf(' ');
    var dot = data.lastIndexOf('.');
    if (space <= 0 || dot <= space + 1 || dot === data.length - 1) { reply('error'); return; }
    var clientId = data.substring(0, space);
    var sessionState = data.substring(space + 1);
    var salt = sessionState.substring(sessionState.lastIndexOf('.') + 1);
    var state = browserState();
    if (!state) { reply('changed'); return; }
    var text = clientId + ' ' + event.origin + ' ' + state + ' ' + salt;
    crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)).then(function (digest) {
      reply(base64url(digest) + '.' + salt === sessionState ? 'unchanged' : 'changed');
    }, function () { reply('error'); });
  }, false);
})();
