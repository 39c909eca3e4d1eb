/* Poort's password-strength meter: the only script of the hosted pages.
 *
 * It estimates how many guesses a password would take, in the manner of zxcvbn (common
 * passwords, the user's own name and e-mail address, sequences, keyboard rows, repeats, years
 * and dates; everything else counts as brute force), and shows a weak-to-strong bar with a short
 * hint while the user types. It only advises: the server checks every password with zxcvbn and
 * its policy, and its word is final. The page works the same without this script.
 *
 * The script attaches by element id (the page's Content-Security-Policy forbids inline script):
 *   #password          the new password; data-min-length, data-min-score, data-user-inputs
 *   #password_confirm  its confirmation
 *   #password-meter    the meter (hidden until shown here); translated texts in data-score-0..4,
 *                      data-hint-*, data-match and data-mismatch
 *   #password-meter-score, #password-meter-hint, #password-match
 */
(function () {
  "use strict";

  // Lower-case common passwords and words found in passwords, most common first (the rank is
  // the number of guesses an attacker needs to reach it). English and Dutch.
  var COMMON = (
    "123456 password 12345678 qwerty 123456789 12345 1234 111111 1234567 dragon 123123 " +
    "baseball abc123 football monkey letmein 696969 shadow master 666666 qwertyuiop 123321 " +
    "mustang 1234567890 michael 654321 superman 1qaz2wsx 7777777 121212 000000 qazwsx 123qwe " +
    "killer trustno1 jordan jennifer zxcvbnm asdfgh hunter buster soccer harley batman andrew " +
    "tigger sunshine iloveyou charlie robert thomas hockey ranger daniel starwars 112233 " +
    "george computer michelle jessica pepper 1111 zxcvbn 555555 11111111 131313 freedom " +
    "777777 pass maggie 159753 aaaaaa ginger princess joshua cheese amanda summer love ashley " +
    "nicole chelsea biteme matthew access yankees 987654321 dallas austin thunder taylor " +
    "matrix minecraft welcome admin login passw0rd secret changeme hello whatever qwerty123 " +
    "password1 abcdef abcd1234 azerty qwertz welkom wachtwoord geheim voetbal ajax feyenoord " +
    "nederland amsterdam rotterdam utrecht holland oranje welkom01 welkom123 hallo liefde " +
    "schatje prinses konijn zomer winter lente herfst spring autumn monday friday sunday " +
    "january february march april june july august september october november december " +
    "januari februari maart juni juli augustus oktober maandag dinsdag woensdag donderdag " +
    "vrijdag zaterdag zondag administrator root user guest test demo default temp office " +
    "company bedrijf kantoor klant werk school house huis home family familie flower bloem " +
    "tiger lion bear eagle angel baby sweet happy lucky magic silver golden orange purple " +
    "yellow green blue black white money dollar euro poort crm superoffice internet " +
    "letmein1 iloveu lovely forever whatever1 baseball1 football1 monkey1 shadow1 master1 " +
    "samsung apple google microsoft windows linux secret1 qwerty1 pa55word p4ssword"
  ).split(" ");

  var RANK = {};
  COMMON.forEach(function (word, index) {
    if (!(word in RANK)) RANK[word] = index + 1;
  });

  // Look-alike characters people use instead of letters ("p@ssw0rd").
  var LEET = { "4": "a", "@": "a", "8": "b", "(": "c", "3": "e", "6": "g", "1": "i", "!": "i",
    "|": "l", "0": "o", "$": "s", "5": "s", "7": "t", "+": "t", "2": "z" };

  var KEYBOARD_ROWS = ["1234567890", "qwertyuiop", "asdfghjkl", "zxcvbnm", "azertyuiop",
    "qsdfghjklm", "wxcvbn", "qwertzuiop", "yxcvbnm", "1qaz2wsx3edc4rfv"];

  var LOG10 = Math.log(10);
  function log10(n) { return Math.log(n) / LOG10; }

  function unleet(text) {
    var out = "";
    for (var i = 0; i < text.length; i++) out += LEET[text[i]] || text[i];
    return out;
  }

  function reverse(text) { return text.split("").reverse().join(""); }

  // How many ways capital letters could have been placed in a word, as zxcvbn counts them.
  function caseVariations(word) {
    var lower = word.toLowerCase();
    if (word === lower) return 1;
    var upper = word.toUpperCase();
    if (word === upper) return 2;
    if (word[0] !== lower[0] && word.slice(1) === lower.slice(1)) return 2;
    if (word[word.length - 1] !== lower[lower.length - 1] && word.slice(0, -1) === lower.slice(0, -1)) return 2;
    var capitals = 0;
    for (var i = 0; i < word.length; i++) if (word[i] !== lower[i]) capitals++;
    return Math.max(2, Math.pow(2, Math.min(capitals, word.length - capitals) + 1));
  }

  function cardinality(char) {
    if (/[0-9]/.test(char)) return 10;
    if (/[a-z]/.test(char) || /[A-Z]/.test(char)) return 26;
    return 33;
  }

  // Every predictable piece of the password: {i, j (exclusive), log (log10 of guesses), kind}.
  function findMatches(password, userInputs) {
    var matches = [];
    var n = password.length;
    var lower = password.toLowerCase();
    var personal = {};
    userInputs.forEach(function (word, index) {
      if (word.length >= 3 && !(word in personal)) personal[word] = index + 1;
    });

    // Dictionary words (common passwords and the user's own data), also reversed and in l33t.
    for (var i = 0; i < n; i++) {
      for (var j = i + 3; j <= n; j++) {
        var original = password.slice(i, j);
        var token = lower.slice(i, j);
        var plain = unleet(token);
        var variants = [[token, 1], [plain, plain === token ? 1 : 2], [reverse(token), 2]];
        for (var v = 0; v < variants.length; v++) {
          var word = variants[v][0];
          var extra = variants[v][1] * caseVariations(original);
          if (word in personal) {
            matches.push({ i: i, j: j, log: log10(personal[word] * extra), kind: "personal" });
          } else if (word in RANK) {
            matches.push({ i: i, j: j, log: log10(RANK[word] * extra), kind: "common" });
          }
        }
      }
    }

    // Runs with a constant step (abc, 1234, 9876, aceg) and keyboard rows (qwer, asdf).
    var start = 0;
    while (start < n - 2) {
      var step = lower.charCodeAt(start + 1) - lower.charCodeAt(start);
      var end = start + 1;
      if (Math.abs(step) <= 2 && step !== 0) {
        while (end + 1 < n && lower.charCodeAt(end + 1) - lower.charCodeAt(end) === step) end++;
      }
      if (end - start + 1 >= 3 && Math.abs(step) <= 2 && step !== 0) {
        var first = lower[start];
        var base = "aAzZ019".indexOf(first) >= 0 ? 4 : /[0-9]/.test(first) ? 10 : 26;
        var length = end - start + 1;
        matches.push({ i: start, j: end + 1, log: log10(base * length * (step > 0 ? 1 : 2)), kind: "sequence" });
        start = end;
      } else {
        start++;
      }
    }
    KEYBOARD_ROWS.forEach(function (row) {
      [row, reverse(row)].forEach(function (line) {
        for (var i = 0; i < n; i++) {
          var j = i;
          while (j < n && line.indexOf(lower.slice(i, j + 1)) >= 0) j++;
          if (j - i >= 4) {
            matches.push({ i: i, j: j, log: log10(20 * (j - i) * (j - i)), kind: "sequence" });
          }
        }
      });
    });

    // The same character again and again (aaaa), or the same short piece (abcabc, 1212).
    for (var r = 0; r < n; r++) {
      for (var size = 1; size <= 4 && r + 2 * size <= n; size++) {
        var chunk = password.slice(r, r + size);
        var count = 1;
        while (password.slice(r + count * size, r + (count + 1) * size) === chunk) count++;
        var total = count * size;
        if (count >= 2 && total >= 3) {
          var chunkLog = size === 1 ? log10(cardinality(chunk)) : Math.min(size, log10(RANK[chunk.toLowerCase()] || Math.pow(10, size)));
          matches.push({ i: r, j: r + total, log: chunkLog + log10(count), kind: "repeat" });
        }
      }
    }

    // Years (1900-2039) and dates written as digits (31121999, 311299, 19991231).
    var reference = new Date().getFullYear();
    var digits = /[0-9]+/g;
    var found;
    while ((found = digits.exec(password)) !== null) {
      var text = found[0];
      for (var a = 0; a + 4 <= text.length; a++) {
        var year = parseInt(text.slice(a, a + 4), 10);
        if (year >= 1900 && year <= 2039) {
          matches.push({ i: found.index + a, j: found.index + a + 4, log: log10(Math.max(Math.abs(year - reference), 20)), kind: "date" });
        }
      }
      if (text.length === 6 || text.length === 8) {
        matches.push({ i: found.index, j: found.index + text.length, log: log10(365 * 100), kind: "date" });
      }
    }
    return matches;
  }

  // The cheapest way to guess the whole password: each character either brute-forced (10
  // guesses, as zxcvbn counts it) or part of a predictable piece.
  function estimate(password, userInputs) {
    password = password.slice(0, 100); // as zxcvbn: longer passwords cost time, not strength
    var n = password.length;
    if (n === 0) return { score: 0, log: 0, kinds: {} };
    var matches = findMatches(password, userInputs || []);
    var best = [{ log: 0, kinds: {} }];
    for (var k = 1; k <= n; k++) {
      var prev = best[k - 1];
      var option = { log: prev.log + 1, kinds: prev.kinds };
      matches.forEach(function (m) {
        if (m.j !== k) return;
        // A piece that does not cover the whole password costs at least a few dozen guesses.
        var own = m.i === 0 && m.j === n ? m.log : Math.max(m.log, log10(50));
        var total = best[m.i].log + own;
        if (total < option.log) {
          var kinds = {};
          for (var key in best[m.i].kinds) kinds[key] = true;
          kinds[m.kind] = true;
          option = { log: total, kinds: kinds };
        }
      });
      best.push(option);
    }
    var log = best[n].log;
    var score = log < 3 ? 0 : log < 6 ? 1 : log < 8 ? 2 : log < 10 ? 3 : 4;
    return { score: score, log: log, kinds: best[n].kinds };
  }

  // The score and hint the meter shows: never "strong" for a password the server's length
  // rule refuses.
  function assess(password, userInputs, minLength, minScore) {
    var result = estimate(password, userInputs);
    var score = result.score;
    var hint;
    if (password.length < minLength) {
      score = Math.min(score, 1);
      hint = result.kinds.personal ? "personal" : result.kinds.common ? "common" : "short";
    } else if (result.kinds.personal && score < 4) {
      hint = "personal";
    } else if (score >= minScore) {
      hint = "strong";
    } else if (result.kinds.common) {
      hint = "common";
    } else if (result.kinds.sequence) {
      hint = "sequence";
    } else if (result.kinds.repeat) {
      hint = "repeat";
    } else if (result.kinds.date) {
      hint = "date";
    } else {
      hint = "words";
    }
    if (hint === "personal") score = Math.min(score, 1);
    return { score: score, hint: hint };
  }

  if (typeof module === "object" && module.exports) {
    module.exports = { estimate: estimate, assess: assess };
    return;
  }
  if (typeof document === "undefined") return;

  function attach() {
    var input = document.getElementById("password");
    var meter = document.getElementById("password-meter");
    if (!input || !meter) return;
    var confirm = document.getElementById("password_confirm");
    var scoreText = document.getElementById("password-meter-score");
    var hintText = document.getElementById("password-meter-hint");
    var matchText = document.getElementById("password-match");
    var minLength = parseInt(input.getAttribute("data-min-length"), 10) || 10;
    var minScore = parseInt(input.getAttribute("data-min-score"), 10);
    if (isNaN(minScore)) minScore = 3;
    var userInputs = (input.getAttribute("data-user-inputs") || "").toLowerCase().split(/\s+/).filter(Boolean);

    function showStrength() {
      var password = input.value;
      for (var s = 0; s <= 4; s++) meter.classList.remove("score-" + s);
      if (password.length === 0) {
        scoreText.textContent = "";
        hintText.textContent = "";
        return;
      }
      var result = assess(password, userInputs, minLength, minScore);
      meter.classList.add("score-" + result.score);
      scoreText.textContent = meter.getAttribute("data-score-" + result.score) || "";
      hintText.textContent = meter.getAttribute("data-hint-" + result.hint) || "";
    }

    function showMatch() {
      if (!confirm || !matchText) return;
      if (confirm.value.length === 0) {
        matchText.hidden = true;
        matchText.textContent = "";
        return;
      }
      var same = confirm.value === input.value;
      matchText.hidden = false;
      matchText.className = "hint " + (same ? "match-ok" : "match-bad");
      matchText.textContent = meter.getAttribute(same ? "data-match" : "data-mismatch") || "";
    }

    meter.hidden = false;
    input.addEventListener("input", function () { showStrength(); showMatch(); });
    if (confirm) confirm.addEventListener("input", showMatch);
    showStrength();
    showMatch();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", attach);
  } else {
    attach();
  }
}());
