"""Small phrase tables for the message layer, one entry per supported locale.

Sentences are ``str.format`` templates without a final full stop (the caller adds it, or a
count before it). A placeholder written with a capital first letter (``{Language}``) gets the
value capitalised, for names that start a sentence. Language names come from Babel in the
nominative, so the sentences are built to need no declension (a colon or a label form where a
language would otherwise want another grammatical case).

Skill labels live in ``shared.skills``; they are not repeated here. Tables keyed by a code
have exactly the codes of ``shared.vocabulary`` in every locale (a unit test checks it).
"""

from __future__ import annotations

LEVEL_NAMES: dict[str, dict[str, str]] = {
    "en": {
        "native": "native",
        "fluent": "fluent",
        "conversational": "conversational",
        "basic": "basic",
    },
    "pl": {
        "native": "ojczysty",
        "fluent": "biegły",
        "conversational": "komunikatywny",
        "basic": "podstawowy",
    },
    "uk": {
        "native": "рідна",
        "fluent": "вільне володіння",
        "conversational": "розмовний рівень",
        "basic": "базовий рівень",
    },
    "ru": {
        "native": "родной",
        "fluent": "свободное владение",
        "conversational": "разговорный уровень",
        "basic": "базовый уровень",
    },
    "fi": {
        "native": "äidinkieli",
        "fluent": "sujuva",
        "conversational": "keskustelutaso",
        "basic": "perustaso",
    },
    "pt": {
        "native": "nativo",
        "fluent": "fluente",
        "conversational": "conversação",
        "basic": "básico",
    },
    "sl": {
        "native": "materni",
        "fluent": "tekoče",
        "conversational": "pogovorno",
        "basic": "osnovno",
    },
}

URGENCY_NAMES: dict[str, dict[str, str]] = {
    "en": {"low": "low", "normal": "normal", "high": "high", "critical": "critical"},
    "pl": {"low": "niska", "normal": "zwykła", "high": "wysoka", "critical": "krytyczna"},
    "uk": {"low": "низька", "normal": "звичайна", "high": "висока", "critical": "критична"},
    "ru": {"low": "низкая", "normal": "обычная", "high": "высокая", "critical": "критическая"},
    "fi": {"low": "matala", "normal": "tavallinen", "high": "korkea", "critical": "kriittinen"},
    "pt": {"low": "baixa", "normal": "normal", "high": "alta", "critical": "crítica"},
    "sl": {"low": "nizka", "normal": "običajna", "high": "visoka", "critical": "kritična"},
}

# "N people" by CLDR plural category (Babel's ``Locale.plural_form``); "other" is the fallback.
PEOPLE: dict[str, dict[str, str]] = {
    "en": {"one": "person", "other": "people"},
    "pl": {"one": "osoba", "few": "osoby", "many": "osób", "other": "osoby"},
    "uk": {"one": "особа", "few": "особи", "many": "осіб", "other": "особи"},
    "ru": {"one": "человек", "few": "человека", "many": "человек", "other": "человека"},
    "fi": {"one": "henkilö", "other": "henkilöä"},
    "pt": {"one": "pessoa", "other": "pessoas"},
    "sl": {"one": "oseba", "two": "osebi", "few": "osebe", "other": "oseb"},
}

# Cyrillic text uses the Cyrillic abbreviation, as people there write it.
KILOMETRE: dict[str, str] = {
    "en": "km",
    "pl": "km",
    "uk": "км",
    "ru": "км",
    "fi": "km",
    "pt": "km",
    "sl": "km",
}

# Keys: a reason code, or ``code.variant`` where a parameter decides the wording (``.none`` is
# the wording for when the parameter is missing). ``{when}`` is a weekday, possibly followed by
# a short date; ``{start}``/``{end}`` are clock times in the locale's style.
REASONS: dict[str, dict[str, str]] = {
    "en": {
        "shared_language.native": "You speak {language} (native)",
        "shared_language.fluent": "You speak {language} (fluent)",
        "shared_language.conversational": "You speak {language} (conversational)",
        "shared_language.basic": "You speak {language}, though only at a basic level",
        "shared_language.any": "You speak {language}",
        "shared_language.none": "You speak a language the person speaks",
        "speaks_locale": "You also speak {language}, the person's own language",
        "speaks_locale.none": "You also speak the person's own language",
        "skills": "You can help with what is needed: {skills}",
        "skills.none": "You can help with what is needed",
        "distance": "You live about {km} from where help is needed",
        "distance.none": "You live close enough to help in person",
        "remote": "You can help remotely, by phone or online",
        "available": "You are both free on {when}, {start}–{end}",
        "available.day": "You are both free on {when}",
        "available.none": "Your free time matches theirs",
        "load": "You still have room: {active} of {capacity} places taken",
        "load.idle": "You are not helping with any other request at the moment",
        "load.none": "You have time for one more request",
        "no_volunteers": "No volunteers have registered yet",
        "out_of_reach": "Volunteers live too far away to come in person and do not help remotely",
        "no_shared_language": "Volunteers do not speak {languages}",
        "no_shared_language.none": "Volunteers do not speak the language needed",
        "missing_skill": "Volunteers do not offer the help needed: {skills}",
        "missing_skill.none": "Volunteers do not offer the help needed",
        "previously_offered": (
            "Volunteers who could help were already asked and said no or did not answer in time"
        ),
        "no_capacity": (
            "Volunteers who could help are busy with other requests or are taking a break"
        ),
        "no_time_overlap": (
            "Volunteers are not free at times that suit the person before the date needed"
        ),
        "paused_or_excluded": (
            "Volunteers who could help are taking a break or cannot be asked for this request"
        ),
        "unknown": "Another reason was taken into account",
    },
    "pl": {
        "shared_language.native": "Język {language} to Twój język ojczysty",
        "shared_language.fluent": "Znasz biegle język {language}",
        "shared_language.conversational": "Znasz język {language} na poziomie komunikatywnym",
        "shared_language.basic": "Znasz język {language}, choć tylko na poziomie podstawowym",
        "shared_language.any": "Znasz język {language}",
        "shared_language.none": "Znasz język, którym mówi ta osoba",
        "speaks_locale": "Znasz też język ojczysty tej osoby: {language}",
        "speaks_locale.none": "Znasz też język ojczysty tej osoby",
        "skills": "Możesz pomóc w tym, czego potrzeba: {skills}",
        "skills.none": "Możesz pomóc w tym, czego potrzeba",
        "distance": "Mieszkasz około {km} od miejsca, w którym potrzebna jest pomoc",
        "distance.none": "Mieszkasz na tyle blisko, by pomóc na miejscu",
        "remote": "Możesz pomóc zdalnie – przez telefon lub internet",
        "available": "Macie wspólny wolny termin: {when}, {start}–{end}",
        "available.day": "Macie wspólny wolny termin: {when}",
        "available.none": "Twój wolny czas pokrywa się z czasem tej osoby",
        "load": "Masz jeszcze wolne miejsce: zajęte {active} z {capacity}",
        "load.idle": "Nie pomagasz teraz przy żadnym innym zgłoszeniu",
        "load.none": "Masz czas na jeszcze jedno zgłoszenie",
        "no_volunteers": "Nie zarejestrował się jeszcze żaden wolontariusz",
        "out_of_reach": (
            "Wolontariusze mieszkają za daleko, by przyjść osobiście, i nie pomagają zdalnie"
        ),
        "no_shared_language": "Wolontariusze nie znają potrzebnego języka: {languages}",
        "no_shared_language.none": "Wolontariusze nie znają potrzebnego języka",
        "missing_skill": "Wolontariusze nie oferują potrzebnej pomocy: {skills}",
        "missing_skill.none": "Wolontariusze nie oferują potrzebnej pomocy",
        "previously_offered": (
            "Wolontariusze, którzy mogliby pomóc, zostali już zapytani i odmówili "
            "lub nie odpowiedzieli na czas"
        ),
        "no_capacity": (
            "Wolontariusze, którzy mogliby pomóc, są zajęci innymi zgłoszeniami lub mają przerwę"
        ),
        "no_time_overlap": (
            "Wolontariusze nie mają czasu w terminach dogodnych dla tej osoby przed wymaganą datą"
        ),
        "paused_or_excluded": (
            "Wolontariusze, którzy mogliby pomóc, mają przerwę lub nie można ich zapytać "
            "o to zgłoszenie"
        ),
        "unknown": "Wzięto pod uwagę także inny powód",
    },
    "uk": {
        "shared_language.native": "{Language} — ваша рідна мова",
        "shared_language.fluent": "{Language}: ви вільно володієте цією мовою",
        "shared_language.conversational": (
            "{Language}: ви володієте цією мовою на розмовному рівні"
        ),
        "shared_language.basic": "{Language}: ви знаєте цю мову, але лише на базовому рівні",
        "shared_language.any": "{Language}: ви знаєте цю мову",
        "shared_language.none": "Ви знаєте мову, якою розмовляє ця людина",
        "speaks_locale": "Ви також знаєте рідну мову цієї людини: {language}",
        "speaks_locale.none": "Ви також знаєте рідну мову цієї людини",
        "skills": "Ви можете допомогти з тим, що потрібно: {skills}",
        "skills.none": "Ви можете допомогти з тим, що потрібно",
        "distance": "Ви живете приблизно за {km} від місця, де потрібна допомога",
        "distance.none": "Ви живете достатньо близько, щоб допомогти особисто",
        "remote": "Ви можете допомогти дистанційно — телефоном або онлайн",
        "available": "У вас є спільний вільний час: {when}, {start}–{end}",
        "available.day": "У вас є спільний вільний час: {when}",
        "available.none": "Ваш вільний час збігається з часом цієї людини",
        "load": "У вас ще є місце: зайнято {active} з {capacity}",
        "load.idle": "Зараз ви не допомагаєте з жодним іншим запитом",
        "load.none": "У вас є час ще на один запит",
        "no_volunteers": "Ще не зареєструвався жоден волонтер",
        "out_of_reach": (
            "Волонтери живуть надто далеко, щоб прийти особисто, і не допомагають дистанційно"
        ),
        "no_shared_language": "Волонтери не знають потрібної мови: {languages}",
        "no_shared_language.none": "Волонтери не знають потрібної мови",
        "missing_skill": "Волонтери не пропонують потрібної допомоги: {skills}",
        "missing_skill.none": "Волонтери не пропонують потрібної допомоги",
        "previously_offered": (
            "Волонтерів, які могли б допомогти, вже запитували, і вони відмовилися "
            "або не відповіли вчасно"
        ),
        "no_capacity": (
            "Волонтери, які могли б допомогти, зайняті іншими запитами або мають перерву"
        ),
        "no_time_overlap": (
            "Волонтери не мають вільного часу, зручного для цієї людини, до потрібної дати"
        ),
        "paused_or_excluded": (
            "Волонтери, які могли б допомогти, мають перерву або їм не можна запропонувати "
            "цей запит"
        ),
        "unknown": "Було враховано й іншу причину",
    },
    "ru": {
        "shared_language.native": "{Language} — ваш родной язык",
        "shared_language.fluent": "{Language}: вы свободно владеете этим языком",
        "shared_language.conversational": (
            "{Language}: вы владеете этим языком на разговорном уровне"
        ),
        "shared_language.basic": "{Language}: вы знаете этот язык, но только на базовом уровне",
        "shared_language.any": "{Language}: вы знаете этот язык",
        "shared_language.none": "Вы знаете язык, на котором говорит этот человек",
        "speaks_locale": "Вы также знаете родной язык этого человека: {language}",
        "speaks_locale.none": "Вы также знаете родной язык этого человека",
        "skills": "Вы можете помочь с тем, что нужно: {skills}",
        "skills.none": "Вы можете помочь с тем, что нужно",
        "distance": "Вы живёте примерно в {km} от места, где нужна помощь",
        "distance.none": "Вы живёте достаточно близко, чтобы помочь лично",
        "remote": "Вы можете помочь дистанционно — по телефону или онлайн",
        "available": "У вас есть общее свободное время: {when}, {start}–{end}",
        "available.day": "У вас есть общее свободное время: {when}",
        "available.none": "Ваше свободное время совпадает со временем этого человека",
        "load": "У вас ещё есть место: занято {active} из {capacity}",
        "load.idle": "Сейчас вы не помогаете ни с одним другим запросом",
        "load.none": "У вас есть время ещё на один запрос",
        "no_volunteers": "Пока не зарегистрировался ни один волонтёр",
        "out_of_reach": (
            "Волонтёры живут слишком далеко, чтобы прийти лично, и не помогают дистанционно"
        ),
        "no_shared_language": "Волонтёры не знают нужного языка: {languages}",
        "no_shared_language.none": "Волонтёры не знают нужного языка",
        "missing_skill": "Волонтёры не предлагают нужной помощи: {skills}",
        "missing_skill.none": "Волонтёры не предлагают нужной помощи",
        "previously_offered": (
            "Волонтёрам, которые могли бы помочь, этот запрос уже предлагали, и они "
            "отказались или не ответили вовремя"
        ),
        "no_capacity": (
            "Волонтёры, которые могли бы помочь, заняты другими запросами или взяли перерыв"
        ),
        "no_time_overlap": (
            "У волонтёров нет свободного времени, удобного для этого человека, до нужной даты"
        ),
        "paused_or_excluded": (
            "Волонтёры, которые могли бы помочь, взяли перерыв или им нельзя предложить этот запрос"
        ),
        "unknown": "Учтена и другая причина",
    },
    "fi": {
        "shared_language.native": "{Language} on äidinkielesi",
        "shared_language.fluent": "{Language}: puhut kieltä sujuvasti",
        "shared_language.conversational": "{Language}: pärjäät kielellä arkisissa keskusteluissa",
        "shared_language.basic": "{Language}: osaat kieltä, mutta vain perustasolla",
        "shared_language.any": "{Language}: osaat tätä kieltä",
        "shared_language.none": "Osaat kieltä, jota avun tarvitsija puhuu",
        "speaks_locale": "Osaat myös avun tarvitsijan omaa kieltä: {language}",
        "speaks_locale.none": "Osaat myös avun tarvitsijan omaa kieltä",
        "skills": "Voit auttaa siinä, mitä tarvitaan: {skills}",
        "skills.none": "Voit auttaa siinä, mitä tarvitaan",
        "distance": "Asut noin {km} päässä paikasta, jossa apua tarvitaan",
        "distance.none": "Asut tarpeeksi lähellä auttaaksesi paikan päällä",
        "remote": "Voit auttaa etänä, puhelimessa tai verkossa",
        "available": "Teillä on yhteistä vapaata aikaa: {when} klo {start}–{end}",
        "available.day": "Teillä on yhteistä vapaata aikaa: {when}",
        "available.none": "Vapaat aikanne sopivat yhteen",
        "load": "Sinulla on vielä tilaa: käytössä {active}/{capacity}",
        "load.idle": "Et auta tällä hetkellä muissa pyynnöissä",
        "load.none": "Sinulla on aikaa vielä yhdelle pyynnölle",
        "no_volunteers": "Vapaaehtoisia ei ole vielä rekisteröitynyt",
        "out_of_reach": (
            "Vapaaehtoiset asuvat liian kaukana tullakseen paikalle eivätkä auta etänä"
        ),
        "no_shared_language": "Vapaaehtoiset eivät osaa tarvittavaa kieltä: {languages}",
        "no_shared_language.none": "Vapaaehtoiset eivät osaa tarvittavaa kieltä",
        "missing_skill": "Vapaaehtoiset eivät tarjoa tarvittavaa apua: {skills}",
        "missing_skill.none": "Vapaaehtoiset eivät tarjoa tarvittavaa apua",
        "previously_offered": (
            "Vapaaehtoisilta, jotka voisivat auttaa, on jo kysytty, ja he kieltäytyivät "
            "tai eivät vastanneet ajoissa"
        ),
        "no_capacity": (
            "Vapaaehtoiset, jotka voisivat auttaa, ovat kiinni muissa pyynnöissä tai tauolla"
        ),
        "no_time_overlap": (
            "Vapaaehtoiset eivät ole vapaina avun tarvitsijalle sopivina aikoina ennen määräpäivää"
        ),
        "paused_or_excluded": (
            "Vapaaehtoiset, jotka voisivat auttaa, ovat tauolla, tai heiltä ei voi kysyä "
            "tätä pyyntöä"
        ),
        "unknown": "Myös muu syy otettiin huomioon",
    },
    "pt": {
        "shared_language.native": "O {language} é a sua língua materna",
        "shared_language.fluent": "Fala {language} fluentemente",
        "shared_language.conversational": "Consegue conversar em {language}",
        "shared_language.basic": "Fala {language}, embora apenas a um nível básico",
        "shared_language.any": "Fala {language}",
        "shared_language.none": "Fala uma das línguas desta pessoa",
        "speaks_locale": "Também fala a língua materna desta pessoa: {language}",
        "speaks_locale.none": "Também fala a língua materna desta pessoa",
        "skills": "Pode ajudar no que é preciso: {skills}",
        "skills.none": "Pode ajudar no que é preciso",
        "distance": "Vive a cerca de {km} do local onde é preciso ajudar",
        "distance.none": "Vive suficientemente perto para ajudar presencialmente",
        "remote": "Pode ajudar à distância, por telefone ou online",
        "available": "Têm tempo livre em comum: {when}, das {start} às {end}",
        "available.day": "Têm tempo livre em comum: {when}",
        "available.none": "O seu tempo livre coincide com o desta pessoa",
        "load": "Ainda tem disponibilidade: {active} de {capacity} vagas ocupadas",
        "load.idle": "De momento não está a ajudar em nenhum outro pedido",
        "load.none": "Tem tempo para mais um pedido",
        "no_volunteers": "Ainda não se registou nenhum voluntário",
        "out_of_reach": (
            "Os voluntários vivem demasiado longe para ir presencialmente e não ajudam à distância"
        ),
        "no_shared_language": "Os voluntários não falam a língua necessária: {languages}",
        "no_shared_language.none": "Os voluntários não falam a língua necessária",
        "missing_skill": "Os voluntários não oferecem a ajuda necessária: {skills}",
        "missing_skill.none": "Os voluntários não oferecem a ajuda necessária",
        "previously_offered": (
            "Os voluntários que poderiam ajudar já foram contactados e recusaram "
            "ou não responderam a tempo"
        ),
        "no_capacity": (
            "Os voluntários que poderiam ajudar estão ocupados com outros pedidos ou em pausa"
        ),
        "no_time_overlap": (
            "Os voluntários não estão livres nos horários que convêm a esta pessoa "
            "antes da data pretendida"
        ),
        "paused_or_excluded": (
            "Os voluntários que poderiam ajudar estão em pausa ou não podem ser contactados "
            "para este pedido"
        ),
        "unknown": "Foi também tido em conta outro motivo",
    },
    "sl": {
        "shared_language.native": "{Language} je vaš materni jezik",
        "shared_language.fluent": "{Language}: jezik govorite tekoče",
        "shared_language.conversational": "{Language}: jezik znate dovolj za pogovor",
        "shared_language.basic": "{Language}: jezik znate, a le na osnovni ravni",
        "shared_language.any": "{Language}: ta jezik znate",
        "shared_language.none": "Govorite jezik, ki ga govori ta oseba",
        "speaks_locale": "Govorite tudi materni jezik te osebe: {language}",
        "speaks_locale.none": "Govorite tudi materni jezik te osebe",
        "skills": "Lahko pomagate pri tem, kar je potrebno: {skills}",
        "skills.none": "Lahko pomagate pri tem, kar je potrebno",
        "distance": "Živite približno {km} od kraja, kjer je pomoč potrebna",
        "distance.none": "Živite dovolj blizu, da lahko pomagate osebno",
        "remote": "Pomagate lahko na daljavo, po telefonu ali prek spleta",
        "available": "Imata skupni prosti čas: {when}, {start}–{end}",
        "available.day": "Imata skupni prosti čas: {when}",
        "available.none": "Vajin prosti čas se ujema",
        "load": "Še imate prostor: zasedeno {active} od {capacity}",
        "load.idle": "Trenutno ne pomagate pri nobeni drugi prošnji",
        "load.none": "Imate čas še za eno prošnjo",
        "no_volunteers": "Prijavil se še ni noben prostovoljec",
        "out_of_reach": (
            "Prostovoljci živijo predaleč, da bi prišli osebno, in ne pomagajo na daljavo"
        ),
        "no_shared_language": "Prostovoljci ne govorijo potrebnega jezika: {languages}",
        "no_shared_language.none": "Prostovoljci ne govorijo potrebnega jezika",
        "missing_skill": "Prostovoljci ne nudijo potrebne pomoči: {skills}",
        "missing_skill.none": "Prostovoljci ne nudijo potrebne pomoči",
        "previously_offered": (
            "Prostovoljce, ki bi lahko pomagali, smo že vprašali, pa so odklonili "
            "ali niso pravočasno odgovorili"
        ),
        "no_capacity": (
            "Prostovoljci, ki bi lahko pomagali, so zasedeni z drugimi prošnjami ali so na premoru"
        ),
        "no_time_overlap": (
            "Prostovoljci niso prosti ob časih, ki ustrezajo tej osebi, pred želenim datumom"
        ),
        "paused_or_excluded": (
            "Prostovoljci, ki bi lahko pomagali, so na premoru ali jih za to prošnjo "
            "ne moremo vprašati"
        ),
        "unknown": "Upoštevan je bil tudi drug razlog",
    },
}
